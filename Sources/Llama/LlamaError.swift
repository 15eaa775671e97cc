/// Why a model could not be loaded or run.
public enum LlamaError: Error, CustomStringConvertible, Sendable {
    case unsupportedArchitecture(source: String, architecture: String)
    case missingMetadata(source: String, key: String)
    case invalidConfig(source: String, reason: String)
    case missingTensor(source: String, tensor: String)
    case wrongShape(source: String, tensor: String, expected: [Int], found: [Int])
    case notAModel(path: String)

    public var description: String {
        switch self {
        case let .unsupportedArchitecture(source, arch):
            return "\(source): architecture '\(arch)' is not supported (only 'llama' family models load)"
        case let .missingMetadata(source, key):
            return "\(source): metadata key '\(key)' is missing"
        case let .invalidConfig(source, reason):
            return "\(source): invalid model configuration: \(reason)"
        case let .missingTensor(source, tensor):
            return "\(source): tensor '\(tensor)' is missing"
        case let .wrongShape(source, tensor, expected, found):
            return "\(source): tensor '\(tensor)' has shape \(found), expected \(expected) — is this the model its config describes?"
        case let .notAModel(path):
            return "\(path): not a model (expected a .gguf file or a directory with config.json and *.safetensors)"
        }
    }
}
