import CHTTPParser

/// Turns a connection's bytes into `HTTPRequest`s with libhttp-parser, enforcing the size limits.
///
/// `parse` stops after each complete request (by pausing the C parser), so the connection
/// decides between requests whether to go on, which is how pipelining backpressure works.
/// Loop-thread confined, one per connection.
final class HTTPRequestParser {
    /// Something the connection must act on.
    enum Event {
        /// Headers asked for `100 Continue` and a body follows.
        case expectsContinue
        /// A complete request.
        case request(HTTPRequest)
    }

    /// Why the bytes cannot be parsed further; each maps to the status the server answers with.
    enum Failure: Error, Equatable {
        case malformed(reason: String)
        case headersTooLarge
        case bodyTooLarge

        /// The HTTP status to answer with before closing.
        var status: Int {
            switch self {
            case .malformed: return 400
            case .headersTooLarge: return 431
            case .bodyTooLarge: return 413
            }
        }
    }

    /// The result of one `parse` call.
    struct Step {
        /// Bytes consumed; the rest must be offered again (after the connection is ready for them).
        var consumed = 0
        var events: [Event] = []
        var failure: Failure?
    }

    private let parser: UnsafeMutablePointer<http_parser>
    private var settings = http_parser_settings()
    private let maxHeaderBytes: Int
    private let maxBodyBytes: Int
    private let connectionID: UInt64
    /// Set once the socket's peer is known; stamped on every request.
    var remoteAddress = ""

    // The message being assembled.
    private var url: [UInt8] = []
    private var headers: [(name: String, value: String)] = []
    private var fieldBytes: [UInt8] = []
    private var valueBytes: [UInt8] = []
    /// Whether the last header callback was for a value, so the next field starts a new header.
    private var lastCallbackWasValue = false
    private var headerBytes = 0
    private var body: [UInt8] = []
    private var head: HTTPRequest?
    private var step = Step()

    /// True between the first byte of a request and the end of its headers.
    private(set) var isReadingHead = false
    /// True between the first byte of a request and its end.
    private(set) var isInsideMessage = false

    init(maxHeaderBytes: Int, maxBodyBytes: Int, connectionID: UInt64) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
        self.connectionID = connectionID
        parser = .allocate(capacity: 1)
        http_parser_init(parser, HTTP_REQUEST)
        // Unretained: the parser struct is owned by self and never outlives it.
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        installCallbacks()
    }

    deinit {
        parser.deallocate()
    }

    /// Feeds bytes to the parser; stops early after a complete request or at the first failure.
    func parse(_ bytes: UnsafeRawBufferPointer) -> Step {
        step = Step()
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return step }
        // The parser was paused after the previous request; let it continue.
        if parserErrno == HPE_PAUSED {
            http_parser_pause(parser, 0)
        }
        let consumed = withUnsafePointer(to: &settings) { settings in
            http_parser_execute(parser, settings, base.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        step.consumed = consumed
        let code = parserErrno
        if code != HPE_OK, code != HPE_PAUSED, step.failure == nil {
            step.failure = code == HPE_HEADER_OVERFLOW
                ? .headersTooLarge
                : .malformed(reason: String(cString: http_errno_name(code)))
        }
        let result = step
        step = Step()
        return result
    }

    /// The Swift spelling of `HTTP_PARSER_ERRNO(parser)`, a C macro Swift cannot import.
    private var parserErrno: http_errno {
        http_errno(rawValue: parser.pointee.http_errno)
    }

    // MARK: - Callbacks from http_parser_execute

    private func messageBegan() {
        url.removeAll(keepingCapacity: true)
        headers = []
        fieldBytes.removeAll(keepingCapacity: true)
        valueBytes.removeAll(keepingCapacity: true)
        lastCallbackWasValue = false
        headerBytes = 0
        body = []
        head = nil
        isReadingHead = true
        isInsideMessage = true
    }

    /// Counts head bytes; returns false (and records the failure) once the limit is passed.
    private func countHeadBytes(_ count: Int) -> Bool {
        headerBytes += count
        guard headerBytes <= maxHeaderBytes else {
            step.failure = .headersTooLarge
            return false
        }
        return true
    }

    /// Stores the header whose field and value callbacks have arrived (either may come in pieces).
    private func commitHeader() {
        headers.append((String(decoding: fieldBytes, as: UTF8.self), String(decoding: valueBytes, as: UTF8.self)))
        fieldBytes.removeAll(keepingCapacity: true)
        valueBytes.removeAll(keepingCapacity: true)
        lastCallbackWasValue = false
    }

    private func headersCompleted() -> Bool {
        if lastCallbackWasValue || !fieldBytes.isEmpty {
            commitHeader()
        }
        isReadingHead = false
        let p = parser.pointee
        let method = String(cString: http_method_str(http_method(rawValue: UInt32(p.method))))
        // An upgrade (or CONNECT) hands the connection to another protocol, which this server does not speak.
        let keepAlive = http_should_keep_alive(parser) != 0 && p.upgrade == 0
        head = HTTPRequest(
            method: method,
            target: String(decoding: url, as: UTF8.self),
            version: HTTPVersion(major: Int(p.http_major), minor: Int(p.http_minor)),
            headers: headers,
            keepAlive: keepAlive,
            remoteAddress: remoteAddress,
            connectionID: connectionID
        )
        // Without a Content-Length header the parser reports UInt64.max.
        let declaredLength: UInt64? = p.content_length == UInt64.max ? nil : p.content_length
        if let declaredLength, declaredLength > UInt64(maxBodyBytes) {
            step.failure = .bodyTooLarge
            return false
        }
        if let declaredLength, declaredLength > 0 {
            // Reserve modestly: a client may declare a large body and then send nothing.
            body.reserveCapacity(min(Int(declaredLength), 64 * 1024))
        }
        let isChunked = head?.header("Transfer-Encoding") != nil
        let expectsBody = isChunked || (declaredLength ?? 0) > 0
        // HTTP/1.0 clients do not know 100 Continue (RFC 9110 §10.1.1), so they never get one.
        let speaks11 = (head?.version ?? .http1_0) >= .http1_1
        if expectsBody, speaks11, let expect = head?.header("Expect"), HTTPRequest.namesMatch(expect, "100-continue") {
            step.events.append(.expectsContinue)
        }
        return true
    }

    private func bodyReceived(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard body.count + bytes.count <= maxBodyBytes else {
            step.failure = .bodyTooLarge
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    private func messageCompleted() {
        isInsideMessage = false
        if var request = head {
            request.body = body
            step.events.append(.request(request))
        }
        head = nil
        body = []
        // Hand control back to the connection after every request; `parse` resumes later.
        http_parser_pause(parser, 1)
    }

    private func installCallbacks() {
        settings.on_message_begin = { parser in
            HTTPRequestParser.owner(parser).messageBegan()
            return 0
        }
        settings.on_url = { parser, data, length in
            let me = HTTPRequestParser.owner(parser)
            guard me.countHeadBytes(length) else { return 1 }
            me.url.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
            return 0
        }
        settings.on_header_field = { parser, data, length in
            let me = HTTPRequestParser.owner(parser)
            // A field after a value starts the next header; the 4 bytes stand for ": " and CRLF.
            if me.lastCallbackWasValue {
                me.commitHeader()
            }
            let startsHeader = me.fieldBytes.isEmpty
            guard me.countHeadBytes(length + (startsHeader ? 4 : 0)) else { return 1 }
            me.fieldBytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
            return 0
        }
        settings.on_header_value = { parser, data, length in
            let me = HTTPRequestParser.owner(parser)
            guard me.countHeadBytes(length) else { return 1 }
            me.lastCallbackWasValue = true
            me.valueBytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
            return 0
        }
        settings.on_headers_complete = { parser in
            // Any non-zero value other than 1 or 2 makes http_parser stop with an error.
            HTTPRequestParser.owner(parser).headersCompleted() ? 0 : -1
        }
        settings.on_body = { parser, data, length in
            HTTPRequestParser.owner(parser).bodyReceived(UnsafeRawBufferPointer(start: data, count: length)) ? 0 : 1
        }
        settings.on_message_complete = { parser in
            HTTPRequestParser.owner(parser).messageCompleted()
            return 0
        }
    }

    private static func owner(_ parser: UnsafeMutablePointer<http_parser>?) -> HTTPRequestParser {
        Unmanaged<HTTPRequestParser>.fromOpaque(parser!.pointee.data).takeUnretainedValue()
    }
}
