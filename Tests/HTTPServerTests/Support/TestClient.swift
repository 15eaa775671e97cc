import Glibc

/// A failure of the test client: refused connection, timeout, early EOF, unparsable response.
struct TestClientError: Error, CustomStringConvertible {
    let description: String
}

/// A response as the test client read it off the wire.
struct TestResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    /// The payload of each chunk frame, when the body was chunked.
    var chunks: [[UInt8]]?

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A tiny blocking HTTP client over a plain POSIX socket, so tests see exactly what is on the wire.
final class TestClient {
    private var fd: Int32
    private var buffer: [UInt8] = []

    /// Connects to 127.0.0.1:`port`; a small `receiveBufferSize` makes the client a slow reader.
    init(port: Int, receiveBufferSize: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestClientError(description: "socket() failed: \(errno)") }
        if var size = receiveBufferSize {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var noDelay: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard status == 0 else {
            let code = errno
            Glibc.close(fd)
            fd = -1
            throw TestClientError(description: "connect() failed: errno \(code)")
        }
    }

    deinit {
        close()
    }

    /// Sends all of `text`; returns false if the server has gone.
    @discardableResult
    func send(_ text: String) -> Bool {
        send(Array(text.utf8))
    }

    /// Sends all of `bytes`; returns false if the server has gone.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return false }
            sent += count
        }
        return true
    }

    /// Reads one response (any status, including 100), following Content-Length or chunked framing.
    func readResponse(timeout: Double = 5) throws -> TestResponse {
        let deadline = Self.now() + timeout
        let headEnd = try readUntil([13, 10, 13, 10], deadline: deadline)
        let headText = String(decoding: buffer[..<headEnd], as: UTF8.self)
        buffer.removeFirst(headEnd + 4)
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw TestClientError(description: "bad status line in \(headText)")
        }
        let headers = lines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingSpaces())
        }
        var response = TestResponse(status: status, headers: headers, body: [], chunks: nil)
        if (100..<200).contains(status) || status == 204 || status == 304 {
            return response
        }
        if response.header("Transfer-Encoding")?.lowercased() == "chunked" {
            var chunks: [[UInt8]] = []
            while true {
                let line = try readLine(deadline: deadline)
                guard let size = Int(line, radix: 16) else { throw TestClientError(description: "bad chunk size '\(line)'") }
                if size == 0 {
                    while try !readLine(deadline: deadline).isEmpty {}
                    break
                }
                let chunk = try readExactly(size, deadline: deadline)
                guard try readLine(deadline: deadline).isEmpty else { throw TestClientError(description: "chunk not followed by CRLF") }
                chunks.append(chunk)
            }
            response.chunks = chunks
            response.body = chunks.flatMap { $0 }
        } else if let length = response.header("Content-Length").flatMap({ Int($0) }) {
            response.body = try readExactly(length, deadline: deadline)
        } else {
            response.body = readToEnd(timeout: timeout)
        }
        return response
    }

    /// Reads the status line and headers of a streamed response, then returns chunk payloads one at a time.
    func readChunk(timeout: Double = 5) throws -> [UInt8]? {
        let deadline = Self.now() + timeout
        let line = try readLine(deadline: deadline)
        guard let size = Int(line, radix: 16) else { throw TestClientError(description: "bad chunk size '\(line)'") }
        if size == 0 {
            _ = try readLine(deadline: deadline)
            return nil
        }
        let chunk = try readExactly(size, deadline: deadline)
        _ = try readLine(deadline: deadline)
        return chunk
    }

    /// Reads just the head of a response, leaving the body unread.
    func readHead(timeout: Double = 5) throws -> String {
        let headEnd = try readUntil([13, 10, 13, 10], deadline: Self.now() + timeout)
        defer { buffer.removeFirst(headEnd + 4) }
        return String(decoding: buffer[..<headEnd], as: UTF8.self)
    }

    /// Whether the server closes the connection within `timeout` seconds (unread data is discarded).
    func waitForClose(timeout: Double) -> Bool {
        let deadline = Self.now() + timeout
        buffer.removeAll()
        while true {
            switch receive(deadline: deadline) {
            case .data: buffer.removeAll()
            case .closed: return true
            case .timedOut: return false
            }
        }
    }

    /// Everything the server sends until it closes or `timeout` passes.
    func readToEnd(timeout: Double) -> [UInt8] {
        let deadline = Self.now() + timeout
        while case .data = receive(deadline: deadline) {}
        defer { buffer.removeAll() }
        return buffer
    }

    /// Half-closes the connection: the server sees end of input, the client can still read.
    func finishSending() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Closes the socket.
    func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    // MARK: - Low-level reading

    private enum ReceiveResult { case data, closed, timedOut }

    private func receive(deadline: Double) -> ReceiveResult {
        let remaining = deadline - Self.now()
        guard remaining > 0 else { return .timedOut }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, Int32(remaining * 1000) + 1)
        guard ready > 0 else { return .timedOut }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return .closed }
        buffer += chunk[..<count]
        return .data
    }

    private func readUntil(_ marker: [UInt8], deadline: Double) throws -> Int {
        var searchFrom = 0
        while true {
            if buffer.count >= marker.count {
                for index in searchFrom...(buffer.count - marker.count) where buffer[index..<index + marker.count].elementsEqual(marker) {
                    return index
                }
                searchFrom = buffer.count - marker.count + 1
            }
            switch receive(deadline: deadline) {
            case .data: continue
            case .closed: throw TestClientError(description: "connection closed; had \(String(decoding: buffer, as: UTF8.self))")
            case .timedOut: throw TestClientError(description: "timed out; had \(buffer.count) bytes")
            }
        }
    }

    private func readLine(deadline: Double) throws -> String {
        let end = try readUntil([13, 10], deadline: deadline)
        defer { buffer.removeFirst(end + 2) }
        return String(decoding: buffer[..<end], as: UTF8.self)
    }

    private func readExactly(_ count: Int, deadline: Double) throws -> [UInt8] {
        while buffer.count < count {
            switch receive(deadline: deadline) {
            case .data: continue
            case .closed: throw TestClientError(description: "connection closed after \(buffer.count) of \(count) bytes")
            case .timedOut: throw TestClientError(description: "timed out after \(buffer.count) of \(count) bytes")
            }
        }
        defer { buffer.removeFirst(count) }
        return Array(buffer[..<count])
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
