/// Sends the response to one request, all at once or as a stream; loop-thread confined.
///
/// The handler may answer at once or keep the writer and answer later, typically from a
/// closure posted through `LoopBridge` when the engine has a result. Writers answer in any
/// order; the connection puts responses on the wire in request order.
///
/// The writer owns message framing: it sets Content-Length or chunked encoding itself and
/// ignores handler-supplied `Content-Length`, `Transfer-Encoding` and `Connection` headers
/// (a `Connection: close` from the handler still closes the connection after this response).
/// Headers containing CR, LF or NUL are dropped with a warning.
///
/// Misuse is a programming error and stops the process (answering twice, `writeChunk`
/// outside a stream, a status below 200). Once the connection has closed, every call is
/// simply ignored, so producers racing a disconnect need no checks of their own.
public final class HTTPResponseWriter: @unchecked Sendable {
    // Unchecked because every member is used on the loop thread only (checked with preconditions);
    // Sendable so that other threads can carry the writer inside closures they post to the loop.

    private enum State {
        case waiting
        case streaming(chunked: Bool)
        case finished
        case abandoned
    }

    private let connection: HTTPConnection
    private let loop: EventLoop
    private let slot: ResponseSequencer.Slot
    private let isHeadRequest: Bool
    private let requestVersion: HTTPVersion
    private let requestKeepAlive: Bool
    private var state = State.waiting
    private var closesConnection = false

    /// Called once, on the loop thread, if the connection closes before this response has been completed.
    ///
    /// Use it to cancel the work behind the response. It is cleared after it runs and when the response finishes.
    public var onClose: (() -> Void)?

    init(connection: HTTPConnection, loop: EventLoop, slot: ResponseSequencer.Slot, request: HTTPRequest) {
        self.connection = connection
        self.loop = loop
        self.slot = slot
        isHeadRequest = request.method == "HEAD"
        requestVersion = request.version
        requestKeepAlive = request.keepAlive
    }

    /// Whether the client is still connected and this response can still be delivered.
    public var isConnectionOpen: Bool {
        precondition(loop.isLoopThread, "HTTPResponseWriter used off the loop thread")
        if case .abandoned = state { return false }
        return connection.isOpen
    }

    /// Whether `respond` or `endStream` has completed this response.
    public var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    /// Response bytes queued on this connection that the kernel has not accepted yet.
    public var pendingWriteBytes: Int {
        precondition(loop.isLoopThread, "HTTPResponseWriter used off the loop thread")
        return connection.pendingWriteBytes
    }

    /// Sends a complete response with a Content-Length body; ignored if the connection has closed.
    public func respond(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        guard beginResponse(status: status) else { return }
        closesConnection = mustClose(after: headers)
        let mayHaveBody = !(status == 204 || status == 304)
        var bytes = ResponseSerializer.head(
            status: status,
            headers: sanitized(headers),
            framing: mayHaveBody ? .contentLength(body.count) : .noBody,
            connection: connectionHeader
        )
        if mayHaveBody, !isHeadRequest {
            bytes += body
        }
        // Finished before writing, so a write failure that closes the connection doesn't call onClose.
        state = .finished
        onClose = nil
        connection.write(bytes, for: slot)
        connection.finish(slot, closesConnection: closesConnection)
    }

    /// Sends the status and headers of a streamed response (chunked encoding, e.g. for `text/event-stream`).
    public func startStream(status: Int = 200, headers: [(String, String)] = []) {
        guard beginResponse(status: status) else { return }
        // HTTP/1.0 has no chunked encoding: the body then ends when the connection closes.
        let chunked = requestVersion >= .http1_1
        closesConnection = mustClose(after: headers) || !chunked
        state = .streaming(chunked: chunked)
        let head = ResponseSerializer.head(
            status: status,
            headers: sanitized(headers),
            framing: chunked ? .chunked : .untilClose,
            connection: connectionHeader
        )
        connection.write(head, for: slot)
    }

    /// Sends one piece of a streamed response; empty pieces are skipped. Ignored once the connection has closed.
    public func writeChunk(_ bytes: [UInt8]) {
        precondition(loop.isLoopThread, "HTTPResponseWriter used off the loop thread")
        switch state {
        case .abandoned:
            return
        case .waiting, .finished:
            preconditionFailure("writeChunk outside a stream: call startStream first, and not after endStream")
        case .streaming(let chunked):
            // An empty chunk would read as the end of the stream, so it is never sent.
            guard !bytes.isEmpty, !isHeadRequest else { return }
            connection.write(chunked ? ResponseSerializer.chunk(bytes) : bytes, for: slot)
        }
    }

    /// Ends a streamed response; ignored once the connection has closed.
    public func endStream() {
        precondition(loop.isLoopThread, "HTTPResponseWriter used off the loop thread")
        switch state {
        case .abandoned:
            return
        case .waiting, .finished:
            preconditionFailure("endStream without an open stream")
        case .streaming(let chunked):
            state = .finished
            onClose = nil
            if chunked, !isHeadRequest {
                connection.write(ResponseSerializer.lastChunk, for: slot)
            }
            connection.finish(slot, closesConnection: closesConnection)
        }
    }

    /// Called by the connection when it closes with this response unfinished.
    func connectionDidClose() {
        switch state {
        case .waiting, .streaming:
            state = .abandoned
            let callback = onClose
            onClose = nil
            callback?()
        case .finished, .abandoned:
            break
        }
    }

    /// Checks the call is legal and returns false when the response can no longer be delivered.
    private func beginResponse(status: Int) -> Bool {
        precondition(loop.isLoopThread, "HTTPResponseWriter used off the loop thread")
        precondition((200...999).contains(status), "final responses need a status of 200 or more")
        switch state {
        case .waiting:
            return true
        case .abandoned:
            return false
        case .streaming, .finished:
            preconditionFailure("the response was already started")
        }
    }

    private func mustClose(after headers: [(String, String)]) -> Bool {
        !requestKeepAlive
            || connection.mustClose(after: slot)
            || headers.contains { HTTPRequest.namesMatch($0.0, "Connection") && ResponseSerializer.requestsClose($0.1) }
    }

    /// HTTP/1.1 keeps connections open by default; HTTP/1.0 needs to be told.
    private var connectionHeader: String? {
        if closesConnection { return "close" }
        return requestVersion < .http1_1 ? "keep-alive" : nil
    }

    private func sanitized(_ headers: [(String, String)]) -> [(String, String)] {
        headers.filter { name, value in
            if ResponseSerializer.isFramingHeader(name) { return false }
            guard ResponseSerializer.isValidHeader(name: name, value: value) else {
                connection.logger.warning("dropping response header with invalid characters", metadata: ["header": "\(name)"])
                return false
            }
            return true
        }
    }
}
