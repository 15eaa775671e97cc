import Synchronization

/// An HTTP/1.1 request with a complete body (we always know the body's length up front).
public struct HTTPRequest: Sendable {
    /// GET, POST, DELETE…
    public var method: String
    /// The request target, e.g. `/v1/completions`.
    public var path: String
    /// Extra header fields; Host, Content-Length and Connection are added by the client.
    public var headers: [(name: String, value: String)]
    /// The body bytes (empty for none).
    public var body: [UInt8]

    /// A request; see the properties.
    public init(method: String, path: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }

    /// A request with a JSON body.
    public static func json(_ method: String, _ path: String, body: [UInt8], accept: String = "application/json") -> HTTPRequest {
        HTTPRequest(method: method, path: path, headers: [("Content-Type", "application/json"), ("Accept", accept)], body: body)
    }
}

/// A complete response with its whole body, for small replies (admin calls, non-streamed completions).
public struct HTTPResponse: Sendable {
    /// Status and headers.
    public var head: HTTPResponseHead
    /// The decoded body.
    public var body: [UInt8]
}

/// A small blocking HTTP/1.1 client over POSIX sockets, safe to share between threads.
///
/// Each call blocks its thread until the response is complete, which is what we want: the
/// load generator runs one OS thread per in-flight request, and timing is simplest when the
/// thread that sends is the one that receives. Idle keep-alive connections are pooled.
public final class HTTPClient: Sendable {
    /// Server host name or address.
    public let host: String
    /// Server TCP port.
    public let port: Int
    /// Whether to reuse connections between requests.
    public let keepAlive: Bool
    private let idle = Mutex<[TCPConnection]>([])

    /// A client for `host:port`.
    public init(host: String, port: Int, keepAlive: Bool = true) {
        self.host = host
        self.port = port
        self.keepAlive = keepAlive
    }

    /// Sends `request` and reports each parser event with the monotonic time its bytes arrived.
    ///
    /// Returns the response head once the body is complete. Fails with `.timeout` if `deadline`
    /// (a `MonotonicClock` value) passes first. A reused connection that turns out to have been
    /// closed by the server before any response byte arrived is retried once on a fresh one.
    @discardableResult
    public func send(_ request: HTTPRequest, deadline: UInt64,
                     onEvent: (HTTPResponseEvent, UInt64) -> Void = { _, _ in }) throws(HTTPClientError) -> HTTPResponseHead {
        let bytes = serialize(request)
        while true {
            let (connection, reused) = try checkOut(deadline: deadline)
            var receivedAnything = false
            do {
                let head = try exchange(bytes, on: connection, isHead: request.method == "HEAD", deadline: deadline,
                                        receivedAnything: &receivedAnything, onEvent: onEvent)
                return head
            } catch {
                // Only a stale pooled connection that produced nothing is worth a retry.
                if reused, !receivedAnything, error != .timeout { continue }
                throw error
            }
        }
    }

    /// Sends `request` and collects the whole body.
    public func fetch(_ request: HTTPRequest, timeoutSeconds: Double) throws(HTTPClientError) -> HTTPResponse {
        var body: [UInt8] = []
        let head = try send(request, deadline: MonotonicClock.now() &+ TimeUnits.nanos(seconds: timeoutSeconds)) { event, _ in
            if case .body(let piece) = event { body.append(contentsOf: piece) }
        }
        return HTTPResponse(head: head, body: body)
    }

    /// Closes all pooled idle connections.
    public func closeIdleConnections() {
        idle.withLock { $0.removeAll() }
    }

    private func checkOut(deadline: UInt64) throws(HTTPClientError) -> (TCPConnection, reused: Bool) {
        if keepAlive {
            while let pooled = idle.withLock({ $0.popLast() }) {
                if !pooled.isStale { return (pooled, true) }
            }
        }
        return (try TCPConnection.open(host: host, port: port, deadline: deadline), false)
    }

    private func checkIn(_ connection: TCPConnection) {
        idle.withLock { $0.append(connection) }
    }

    private func exchange(_ bytes: [UInt8], on connection: TCPConnection, isHead: Bool, deadline: UInt64,
                          receivedAnything: inout Bool,
                          onEvent: (HTTPResponseEvent, UInt64) -> Void) throws(HTTPClientError) -> HTTPResponseHead {
        try connection.send(bytes, deadline: deadline)
        connection.requestsServed += 1
        var parser = HTTPResponseParser(isHeadRequest: isHead)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var head: HTTPResponseHead?
        while !parser.isComplete {
            let count = try connection.receive(into: &buffer, deadline: deadline)
            let arrival = MonotonicClock.now()
            let events: [HTTPResponseEvent]
            do {
                events = count == 0 ? try parser.finish() : try parser.feed(buffer[0..<count])
            } catch {
                throw .protocolError(error)
            }
            if count > 0 { receivedAnything = true }
            for event in events {
                if case .head(let h) = event { head = h }
                onEvent(event, arrival)
            }
            if count == 0 { break }
        }
        guard let head else { throw .protocolError(.truncated) }
        let serverCloses = head.header("Connection")?.lowercased().contains("close") ?? false
        if keepAlive, !serverCloses, !parser.isDelimitedByClose { checkIn(connection) }
        return head
    }

    private func serialize(_ request: HTTPRequest) -> [UInt8] {
        var text = "\(request.method) \(request.path) HTTP/1.1\r\nHost: \(hostHeader)\r\n"
        for (name, value) in request.headers { text += "\(name): \(value)\r\n" }
        if !request.body.isEmpty || request.method == "POST" || request.method == "PUT" {
            text += "Content-Length: \(request.body.count)\r\n"
        }
        text += keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n"
        return Array(text.utf8) + request.body
    }

    private var hostHeader: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
