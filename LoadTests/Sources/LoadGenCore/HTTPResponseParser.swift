/// The status line and headers of an HTTP response.
public struct HTTPResponseHead: Sendable, Equatable {
    /// The status code, e.g. 200.
    public var status: Int
    /// The reason phrase, e.g. "OK".
    public var reason: String
    /// Header fields in arrival order (names as sent).
    public var headers: [(name: String, value: String)]

    /// A response head; see the properties.
    public init(status: Int, reason: String, headers: [(name: String, value: String)]) {
        self.status = status
        self.reason = reason
        self.headers = headers
    }

    /// The first value of header `name`, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }

    /// Compares status, reason and headers in order.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.status == rhs.status && lhs.reason == rhs.reason
            && lhs.headers.map(\.name) == rhs.headers.map(\.name) && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }
}

/// What the parser reports as bytes come in.
public enum HTTPResponseEvent: Sendable, Equatable {
    /// The head of the (final, non-1xx) response.
    case head(HTTPResponseHead)
    /// A piece of the decoded body (chunk framing already removed).
    case body([UInt8])
    /// The response is complete.
    case end
}

/// Why a response could not be parsed.
public enum HTTPParseError: Error, Equatable, CustomStringConvertible {
    /// The status line is not `HTTP/1.x NNN reason`.
    case badStatusLine(String)
    /// A header line has no colon.
    case badHeader(String)
    /// A chunk-size line is not hexadecimal.
    case badChunkSize(String)
    /// The CRLF after a chunk's data is missing.
    case missingChunkTerminator
    /// The head is larger than we accept.
    case headTooLarge
    /// The connection closed before the body was complete.
    case truncated
    /// Bytes arrived after the response was complete.
    case unexpectedBytes

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .badStatusLine(let line): return "bad status line: \(line.prefix(80))"
        case .badHeader(let line): return "bad header line: \(line.prefix(80))"
        case .badChunkSize(let line): return "bad chunk size: \(line.prefix(80))"
        case .missingChunkTerminator: return "chunk data not followed by CRLF"
        case .headTooLarge: return "response head too large"
        case .truncated: return "connection closed before the response was complete"
        case .unexpectedBytes: return "bytes after the end of the response"
        }
    }
}

/// An incremental HTTP/1.1 response parser: feed it bytes in pieces of any size.
///
/// It handles `Content-Length`, `Transfer-Encoding: chunked` (with extensions and trailers)
/// and bodies delimited by connection close, and skips interim 1xx responses. Pieces may
/// split anywhere — inside a CRLF, a header, a chunk size — because TCP gives no boundaries.
public struct HTTPResponseParser: Sendable {
    private enum State: Sendable, Equatable {
        case statusLine, headers, fixedBody(remaining: Int), chunkSize, chunkData(remaining: Int), chunkDataEnd
        case trailers, untilClose, done
    }

    private var state: State = .statusLine
    private var buffer: [UInt8] = []
    private var head = HTTPResponseHead(status: 0, reason: "", headers: [])
    private var headBytes = 0
    /// Whether the request was HEAD, whose response never has a body.
    private let isHeadRequest: Bool

    /// The largest status line plus headers accepted.
    public static let maximumHeadSize = 64 * 1024

    /// A parser for the response to one request.
    public init(isHeadRequest: Bool = false) { self.isHeadRequest = isHeadRequest }

    /// True once `.end` has been emitted.
    public var isComplete: Bool { state == .done }

    /// True when the body runs until the connection closes (so the connection cannot be reused).
    public var isDelimitedByClose: Bool { state == .untilClose }

    /// Consumes `bytes` and returns the events they complete.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(HTTPParseError) -> [HTTPResponseEvent] {
        if state == .done {
            if bytes.isEmpty { return [] }
            throw .unexpectedBytes
        }
        buffer.append(contentsOf: bytes)
        var events: [HTTPResponseEvent] = []
        var position = 0
        defer { buffer.removeFirst(position) }
        while try step(&position, &events) {}
        // We never pipeline requests, so nothing may follow a complete response.
        if state == .done, position < buffer.count { throw .unexpectedBytes }
        return events
    }

    /// Reports the end of input (connection closed): completes a close-delimited body, else fails if unfinished.
    public mutating func finish() throws(HTTPParseError) -> [HTTPResponseEvent] {
        switch state {
        case .done: return []
        case .untilClose: state = .done; return [.end]
        default: throw .truncated
        }
    }

    /// Advances one state transition; returns false when more input is needed.
    private mutating func step(_ position: inout Int, _ events: inout [HTTPResponseEvent]) throws(HTTPParseError) -> Bool {
        switch state {
        case .statusLine, .headers, .chunkSize, .trailers, .chunkDataEnd:
            guard let line = try takeLine(&position) else { return false }
            try handleLine(line, &events)
            return state != .done
        case .fixedBody(let remaining):
            let count = min(remaining, buffer.count - position)
            guard count > 0 else { return false }
            events.append(.body(Array(buffer[position..<position + count])))
            position += count
            if remaining == count { state = .done; events.append(.end); return false }
            state = .fixedBody(remaining: remaining - count)
            return true
        case .chunkData(let remaining):
            let count = min(remaining, buffer.count - position)
            guard count > 0 else { return false }
            events.append(.body(Array(buffer[position..<position + count])))
            position += count
            state = remaining == count ? .chunkDataEnd : .chunkData(remaining: remaining - count)
            return true
        case .untilClose:
            guard position < buffer.count else { return false }
            events.append(.body(Array(buffer[position...])))
            position = buffer.count
            return false
        case .done:
            return false
        }
    }

    /// Returns the next line without its CRLF/LF, or nil if no full line is buffered yet.
    private mutating func takeLine(_ position: inout Int) throws(HTTPParseError) -> String? {
        guard let newline = buffer[position...].firstIndex(of: UInt8(ascii: "\n")) else {
            if state == .statusLine || state == .headers, headBytes + buffer.count - position > Self.maximumHeadSize {
                throw .headTooLarge
            }
            return nil
        }
        var end = newline
        if end > position, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let line = String(decoding: buffer[position..<end], as: UTF8.self)
        headBytes += newline + 1 - position
        position = newline + 1
        return line
    }

    private mutating func handleLine(_ line: String, _ events: inout [HTTPResponseEvent]) throws(HTTPParseError) {
        switch state {
        case .statusLine:
            let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]), (100...999).contains(status) else {
                throw .badStatusLine(line)
            }
            head = HTTPResponseHead(status: status, reason: parts.count > 2 ? String(parts[2]) : "", headers: [])
            state = .headers
        case .headers:
            if line.isEmpty { try startBody(&events); return }
            guard let colon = line.firstIndex(of: ":") else { throw .badHeader(line) }
            let name = String(line[..<colon]).trimmingSpaces()
            let value = String(line[line.index(after: colon)...]).trimmingSpaces()
            head.headers.append((name: name, value: value))
        case .chunkSize:
            let sizeText = line.split(separator: ";", maxSplits: 1).first.map { String($0).trimmingSpaces() } ?? ""
            guard let size = Int(sizeText, radix: 16), size >= 0 else { throw .badChunkSize(line) }
            state = size == 0 ? .trailers : .chunkData(remaining: size)
        case .chunkDataEnd:
            guard line.isEmpty else { throw .missingChunkTerminator }
            state = .chunkSize
        case .trailers:
            // Trailer fields are ignored; the empty line ends the message.
            if line.isEmpty { state = .done; events.append(.end) }
        default:
            break
        }
    }

    /// Decides the body framing once the blank line after the headers arrives.
    private mutating func startBody(_ events: inout [HTTPResponseEvent]) throws(HTTPParseError) {
        if (100..<200).contains(head.status) {
            // An interim response (100 Continue, 103 Early Hints): the real one follows.
            state = .statusLine
            headBytes = 0
            return
        }
        events.append(.head(head))
        let noBody = isHeadRequest || head.status == 204 || head.status == 304
        if noBody {
            state = .done
        } else if let encoding = head.header("Transfer-Encoding"), encoding.lowercased().contains("chunked") {
            state = .chunkSize
        } else if let lengthText = head.header("Content-Length") {
            guard let length = Int(lengthText), length >= 0 else { throw .badHeader("Content-Length: \(lengthText)") }
            state = length == 0 ? .done : .fixedBody(remaining: length)
        } else {
            state = .untilClose
        }
        if state == .done { events.append(.end) }
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs (no Foundation needed).
    func trimmingSpaces() -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(self[first...last])
    }
}
