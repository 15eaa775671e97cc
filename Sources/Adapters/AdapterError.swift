/// Why an adapter cannot be loaded. Every case names the file and says what to do.
public enum AdapterError: Error, Equatable, Sendable, CustomStringConvertible {
    case badConfig(file: String, reason: String)
    case unsupported(file: String, what: String, hint: String)
    case invalidPattern(file: String, pattern: String)

    public var description: String {
        switch self {
        case let .badConfig(file, reason): return "\(file): not a valid PEFT adapter_config.json: \(reason)"
        case let .unsupported(file, what, hint): return "\(file): \(what) is not supported (\(hint))"
        case let .invalidPattern(file, pattern): return "\(file): '\(pattern)' is not a valid regular expression"
        }
    }
}
