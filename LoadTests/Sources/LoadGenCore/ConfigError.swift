/// A problem with the options or files a run was configured with, found before any load is sent.
public enum ConfigError: Error, Equatable, CustomStringConvertible {
    /// An option's value could not be understood.
    case invalidValue(option: String, value: String, reason: String)
    /// Two options contradict each other, or a required one is missing.
    case inconsistent(String)
    /// A file could not be read, written or decoded.
    case file(path: String, reason: String)

    /// A message fit for the command line.
    public var description: String {
        switch self {
        case .invalidValue(let option, let value, let reason): return "invalid \(option) '\(value)': \(reason)"
        case .inconsistent(let message): return message
        case .file(let path, let reason): return "\(path): \(reason)"
        }
    }
}
