import CLibUV

/// A failure of the environment (address, socket, libuv) rather than a programming mistake.
public enum HTTPServerError: Error, Equatable, CustomStringConvertible {
    /// The configured host is not a numeric IPv4 or IPv6 address.
    case invalidAddress(host: String)
    /// The port is outside 0...65535.
    case invalidPort(Int)
    /// Binding the listening socket failed (address in use, permission denied, ...).
    case bindFailed(host: String, port: Int, code: Int32)
    /// `listen()` on the bound socket failed.
    case listenFailed(code: Int32)
    /// Any other libuv call failed; `code` is libuv's negative error number.
    case libuv(operation: String, code: Int32)

    /// A one-line explanation including libuv's error name and message.
    public var description: String {
        switch self {
        case .invalidAddress(let host):
            return "invalid listen address '\(host)': expected a numeric IPv4 or IPv6 address"
        case .invalidPort(let port):
            return "invalid port \(port): expected 0...65535"
        case .bindFailed(let host, let port, let code):
            return "cannot bind \(host):\(port): \(Self.explain(code))"
        case .listenFailed(let code):
            return "cannot listen: \(Self.explain(code))"
        case .libuv(let operation, let code):
            return "\(operation) failed: \(Self.explain(code))"
        }
    }

    /// libuv's symbolic name and message for an error code, e.g. "EADDRINUSE (address already in use)".
    static func explain(_ code: Int32) -> String {
        "\(String(cString: uv_err_name(code))) (\(String(cString: uv_strerror(code))))"
    }
}
