/// An HTTP protocol version such as 1.1.
public struct HTTPVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The major version number.
    public var major: Int
    /// The minor version number.
    public var minor: Int

    /// Creates a version from its two numbers.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// HTTP/1.0.
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    /// HTTP/1.1.
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    /// The version as written on the wire, e.g. "HTTP/1.1".
    public var description: String { "HTTP/\(major).\(minor)" }

    /// Orders versions by major, then minor number.
    public static func < (lhs: HTTPVersion, rhs: HTTPVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }
}

/// One complete HTTP request: head and fully received body.
public struct HTTPRequest: Sendable {
    /// The method in upper case, e.g. "GET".
    public var method: String
    /// The request target exactly as sent, e.g. "/v1/models?verbose=1".
    public var target: String
    /// The path part of the target, without query string, e.g. "/v1/models".
    public var path: String
    /// The query string after "?", without the "?"; nil when the target has none.
    public var query: String?
    /// The protocol version the client used.
    public var version: HTTPVersion
    /// Header fields in arrival order, names as sent; repeated fields stay separate entries.
    public var headers: [(name: String, value: String)]
    /// The body after any chunked decoding; empty when there is none.
    public var body: [UInt8]
    /// Whether the connection may carry another request after this one's response.
    public var keepAlive: Bool
    /// The client's address as "ip:port" (IPv6 as "[ip]:port").
    public var remoteAddress: String
    /// Identifies the connection the request arrived on; unique within one server.
    public var connectionID: UInt64

    /// Creates a request; the server builds these, tests and tools may too.
    public init(
        method: String,
        target: String,
        version: HTTPVersion = .http1_1,
        headers: [(name: String, value: String)] = [],
        body: [UInt8] = [],
        keepAlive: Bool = true,
        remoteAddress: String = "",
        connectionID: UInt64 = 0
    ) {
        self.method = method
        self.target = target
        (self.path, self.query) = Self.split(target: target)
        self.version = version
        self.headers = headers
        self.body = body
        self.keepAlive = keepAlive
        self.remoteAddress = remoteAddress
        self.connectionID = connectionID
    }

    /// The value of the first header called `name`, compared case-insensitively; nil if absent.
    public func header(_ name: String) -> String? {
        headers.first { Self.namesMatch($0.name, name) }?.value
    }

    /// Every value of headers called `name`, compared case-insensitively, in arrival order.
    public func headers(named name: String) -> [String] {
        headers.filter { Self.namesMatch($0.name, name) }.map(\.value)
    }

    /// The body decoded as UTF-8, with invalid bytes replaced.
    public var bodyText: String {
        String(decoding: body, as: UTF8.self)
    }

    /// ASCII case-insensitive comparison, which is what header names need (RFC 9110 §5.1).
    static func namesMatch(_ a: String, _ b: String) -> Bool {
        let a = a.utf8, b = b.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { lowercase($0) == lowercase($1) }
    }

    private static func lowercase(_ byte: UInt8) -> UInt8 {
        (byte >= 65 && byte <= 90) ? byte + 32 : byte
    }

    /// Splits origin-form ("/p?q") and absolute-form ("http://h/p?q") targets into path and query.
    private static func split(target: String) -> (path: String, query: String?) {
        var rest = Substring(target)
        if !rest.hasPrefix("/"), let scheme = rest.firstRange(of: "://") {
            let afterAuthority = rest[scheme.upperBound...]
            rest = afterAuthority.firstIndex(where: { $0 == "/" || $0 == "?" }).map { afterAuthority[$0...] } ?? "/"
            if rest.hasPrefix("?") { rest = "/" + rest }
        }
        if let hash = rest.firstIndex(of: "#") {
            rest = rest[..<hash]
        }
        guard let question = rest.firstIndex(of: "?") else {
            return (String(rest), nil)
        }
        return (String(rest[..<question]), String(rest[rest.index(after: question)...]))
    }
}
