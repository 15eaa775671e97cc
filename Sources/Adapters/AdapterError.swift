/// Why an adapter cannot be loaded. Every case names the file and says what to do.
public enum AdapterError: Error, Equatable, Sendable, CustomStringConvertible {
    case notFound(path: String)
    case missingFile(directory: String, file: String)
    case pickleRefused(file: String)
    case badConfig(file: String, reason: String)
    case badTensorFile(file: String, reason: String)
    case unsupported(file: String, what: String, hint: String)
    case invalidPattern(file: String, pattern: String)
    case baseMismatch(file: String, reason: String)
    case missingTensor(file: String, tensor: String)
    case unexpectedTensor(file: String, tensor: String)
    case nonFinite(file: String, tensor: String)
    case rankTooLarge(file: String, module: String, rank: Int, limit: Int)

    public var description: String {
        switch self {
        case let .notFound(path): return "\(path): no such adapter directory"
        case let .missingFile(directory, file): return "\(directory): no \(file) (a PEFT adapter directory holds adapter_config.json and adapter_model.safetensors)"
        case let .pickleRefused(file):
            return "\(file): pickle checkpoints are never loaded (they can run code); save the adapter with safe_serialization=True or convert it to adapter_model.safetensors"
        case let .badConfig(file, reason): return "\(file): not a valid PEFT adapter_config.json: \(reason)"
        case let .badTensorFile(file, reason): return "\(file): unreadable safetensors file: \(reason)"
        case let .unsupported(file, what, hint): return "\(file): \(what) is not supported (\(hint))"
        case let .invalidPattern(file, pattern): return "\(file): '\(pattern)' is not a valid regular expression"
        case let .baseMismatch(file, reason): return "\(file): does not fit the base model: \(reason) (was it trained for a different base model?)"
        case let .missingTensor(file, tensor): return "\(file): tensor '\(tensor)' is missing (the config says the adapter has it)"
        case let .unexpectedTensor(file, tensor): return "\(file): tensor '\(tensor)' is not part of what the config describes"
        case let .nonFinite(file, tensor): return "\(file): tensor '\(tensor)' contains NaN or infinite values"
        case let .rankTooLarge(file, module, rank, limit): return "\(file): rank \(rank) on \(module) is above this server's limit of \(limit)"
        }
    }
}
