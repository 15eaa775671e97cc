#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a network operation failed.
public enum HTTPClientError: Error, Equatable, CustomStringConvertible {
    /// The host name did not resolve.
    case resolve(host: String, reason: String)
    /// No address of the host accepted a connection.
    case connect(String)
    /// The deadline passed before the response was complete.
    case timeout
    /// Writing the request failed.
    case send(String)
    /// Reading the response failed (reset, closed early…).
    case receive(String)
    /// The bytes received are not a valid HTTP response.
    case protocolError(HTTPParseError)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .resolve(let host, let reason): return "cannot resolve \(host): \(reason)"
        case .connect(let reason): return "connect failed: \(reason)"
        case .timeout: return "timed out"
        case .send(let reason): return "send failed: \(reason)"
        case .receive(let reason): return "receive failed: \(reason)"
        case .protocolError(let error): return "bad response: \(error)"
        }
    }

    /// A short stable name for grouping errors in reports.
    public var kind: String {
        switch self {
        case .resolve: return "resolve"
        case .connect: return "connect"
        case .timeout: return "timeout"
        case .send: return "send"
        case .receive: return "receive"
        case .protocolError: return "protocol"
        }
    }
}

/// A non-blocking TCP socket with deadline-bounded blocking helpers built on `poll`.
///
/// `@unchecked Sendable`: a connection is used by one thread at a time — the request that
/// holds it, or nobody while it sits in the client's idle pool, which a mutex guards.
final class TCPConnection: @unchecked Sendable {
    private let fd: Int32
    /// How many requests this connection has carried (0 = fresh), to know whether a failure may be a stale keep-alive.
    var requestsServed = 0

    private init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// Opens a connection to `host:port`, trying each resolved address until one accepts.
    static func open(host: String, port: Int, deadline: UInt64) throws(HTTPClientError) -> TCPConnection {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if os(Linux)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw .resolve(host: host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(first) }
        var lastError = "no address"
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            cursor = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            guard fd >= 0 else { lastError = Self.errnoText(); continue }
            let connection = TCPConnection(fd: fd)  // closes fd on every failure path
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var one: Int32 = 1
            // Tokens are small writes on the server side; on ours, the request goes out in one write anyway.
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            #if canImport(Darwin)
            _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
            #endif
            if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return connection }
            guard errno == EINPROGRESS else { lastError = Self.errnoText(); continue }
            do {
                try connection.wait(for: Int16(POLLOUT), deadline: deadline)
            } catch {
                if error == .timeout { throw error }
                lastError = "\(error)"
                continue
            }
            var socketError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &length)
            if socketError == 0 { return connection }
            lastError = String(cString: strerror(socketError))
        }
        throw .connect("\(host):\(port): \(lastError)")
    }

    /// Writes all of `bytes` before `deadline`.
    func send(_ bytes: [UInt8], deadline: UInt64) throws(HTTPClientError) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { raw in
                sendWithoutSignal(fd, raw.baseAddress! + offset, raw.count - offset)
            }
            if sent > 0 { offset += sent; continue }
            if sent < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                try wait(for: Int16(POLLOUT), deadline: deadline)
                continue
            }
            throw .send(sent == 0 ? "connection closed" : Self.errnoText())
        }
    }

    /// Reads what is available into `buffer`, waiting until `deadline`; returns 0 at end of stream.
    func receive(into buffer: inout [UInt8], deadline: UInt64) throws(HTTPClientError) -> Int {
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in recv(fd, raw.baseAddress, raw.count, 0) }
            if count >= 0 { return count }
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                try wait(for: Int16(POLLIN), deadline: deadline)
                continue
            }
            throw .receive(Self.errnoText())
        }
    }

    /// True if the peer has closed or sent unexpected bytes while the connection sat idle.
    var isStale: Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) != 0
    }

    /// Blocks until the socket is ready for `events` or the deadline passes.
    private func wait(for events: Int16, deadline: UInt64) throws(HTTPClientError) {
        while true {
            let now = MonotonicClock.now()
            guard now < deadline else { throw .timeout }
            let millis = Int32(min((deadline - now) / 1_000_000 + 1, UInt64(Int32.max)))
            var descriptor = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&descriptor, 1, millis)
            if ready > 0 { return }  // readable, writable, or error/hang-up: the next call reports which
            if ready < 0, errno != EINTR { throw .receive(Self.errnoText()) }
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// `send(2)` without SIGPIPE: a peer that vanished must surface as an error, not kill the process.
private func sendWithoutSignal(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    #if os(Linux)
    return send(fd, pointer, count, Int32(MSG_NOSIGNAL))
    #else
    return send(fd, pointer, count, 0)
    #endif
}
