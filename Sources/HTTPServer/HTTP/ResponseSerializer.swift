/// Formats response heads, chunk frames and the server's own short error responses as bytes.
enum ResponseSerializer {
    /// How the end of a response body is signalled to the client.
    enum Framing {
        /// `Content-Length: n`.
        case contentLength(Int)
        /// `Transfer-Encoding: chunked`, ended by a zero-size chunk.
        case chunked
        /// No length at all: the body ends when the connection closes (HTTP/1.0 streaming).
        case untilClose
        /// Status codes that never carry a body (1xx, 204, 304).
        case noBody
    }

    /// The interim response that tells an `Expect: 100-continue` client to send its body.
    static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// The zero-size chunk (with no trailers) that ends a chunked body.
    static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)

    /// The status line and headers, ending with the blank line.
    ///
    /// `connection` is the value of the Connection header to add ("close", "keep-alive"), if any.
    static func head(status: Int, headers: [(String, String)], framing: Framing, connection: String?) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + headers.count * 40)
        append("HTTP/1.1 \(status) \(HTTPStatus.reasonPhrase(for: status))\r\n", to: &out)
        for (name, value) in headers {
            append(name, to: &out)
            append(": ", to: &out)
            append(value, to: &out)
            append("\r\n", to: &out)
        }
        switch framing {
        case .contentLength(let length):
            append("Content-Length: \(length)\r\n", to: &out)
        case .chunked:
            append("Transfer-Encoding: chunked\r\n", to: &out)
        case .untilClose, .noBody:
            break
        }
        if let connection {
            append("Connection: \(connection)\r\n", to: &out)
        }
        append("\r\n", to: &out)
        return out
    }

    /// One chunk frame: hexadecimal size, CRLF, the bytes, CRLF. `bytes` must not be empty.
    static func chunk(_ bytes: [UInt8]) -> [UInt8] {
        precondition(!bytes.isEmpty, "an empty chunk would end the stream")
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 12)
        append(String(bytes.count, radix: 16), to: &out)
        append("\r\n", to: &out)
        out += bytes
        append("\r\n", to: &out)
        return out
    }

    /// A complete short plain-text response the server sends on its own (400, 408, 413, 431, 503).
    static func errorResponse(status: Int) -> [UInt8] {
        let body = Array("\(HTTPStatus.reasonPhrase(for: status))\n".utf8)
        let headers = [("Content-Type", "text/plain; charset=utf-8")]
        return head(status: status, headers: headers, framing: .contentLength(body.count), connection: "close") + body
    }

    /// Whether a header is safe to put on the wire: a token name and a value without CR, LF or NUL.
    ///
    /// Rejecting these stops a value taken from user input from splitting the response.
    static func isValidHeader(name: String, value: String) -> Bool {
        guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else { return false }
        return !value.utf8.contains { $0 == 13 || $0 == 10 || $0 == 0 }
    }

    /// Whether the server, not the handler, owns this header (message framing and connection management).
    static func isFramingHeader(_ name: String) -> Bool {
        HTTPRequest.namesMatch(name, "Content-Length")
            || HTTPRequest.namesMatch(name, "Transfer-Encoding")
            || HTTPRequest.namesMatch(name, "Connection")
    }

    /// Whether a Connection header value contains the "close" token.
    static func requestsClose(_ value: String) -> Bool {
        value.split(separator: ",").contains { token in
            HTTPRequest.namesMatch(String(token.trimmingSpaces), "close")
        }
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    private static func append(_ text: String, to out: inout [UInt8]) {
        out.append(contentsOf: text.utf8)
    }
}

extension Substring {
    /// The substring without leading and trailing spaces and tabs.
    var trimmingSpaces: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = lastIndex(where: { !isSpace($0) })!
        return self[start...end]
    }
}
