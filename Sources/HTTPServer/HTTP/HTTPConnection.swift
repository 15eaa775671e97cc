import CLibUV
import Logging

/// One client connection: parses requests, hands them to the handler, and writes responses back in request order.
///
/// Loop-thread confined. The lifecycle is `open` (serving) → `closing` (final bytes flushed,
/// FIN sent, client input drained for a moment so it sees the response rather than a reset)
/// → `closed`. Whenever a connection stops with responses unfinished, their writers' `onClose` runs.
final class HTTPConnection: TCPSocketDelegate {
    private enum State { case open, closing, closed }

    /// What happens to bytes the client sends.
    private enum Intake {
        /// Parse them into requests.
        case parsing
        /// Too many responses outstanding: stop reading the socket until one finishes.
        case paused
        /// No further requests will be served on this connection: discard them.
        case finished
    }

    /// What the connection's single timer is currently counting down.
    private enum Deadline { case none, idle, head, bodyStall, linger }

    let id: UInt64
    let logger: Logger
    /// Set for a connection over the limit, which only gets a 503.
    private(set) var isRejected = false
    /// Called once when the connection has closed, so the server can forget it.
    var onClosed: ((HTTPConnection) -> Void)?

    private let loop: EventLoop
    private let socket: TCPSocket
    private let configuration: HTTPServerConfiguration
    private let handler: HTTPServer.Handler
    private let parser: HTTPRequestParser
    private let timer: LoopTimer

    private var state = State.open
    private var intake = Intake.parsing
    private var deadline = Deadline.none
    private var isDraining = false
    private var peerFinishedSending = false
    private var isProcessingInbox = false
    /// Received bytes not parsed yet (only while paused, or during one `processInbox` pass).
    private var inbox: [UInt8] = []
    private var sequencer = ResponseSequencer()
    /// Writers whose responses are not finished, by slot; told when the connection closes.
    private var writers: [ResponseSequencer.Slot: HTTPResponseWriter] = [:]
    /// A slot opened early because the request expects `100 Continue` before its body.
    private var continueSlot: ResponseSequencer.Slot?

    init(
        id: UInt64,
        loop: EventLoop,
        socket: TCPSocket,
        configuration: HTTPServerConfiguration,
        logger: Logger,
        handler: @escaping HTTPServer.Handler
    ) {
        self.id = id
        self.loop = loop
        self.socket = socket
        self.configuration = configuration
        self.logger = logger
        self.handler = handler
        parser = HTTPRequestParser(
            maxHeaderBytes: configuration.maxHeaderBytes,
            maxBodyBytes: configuration.maxBodyBytes,
            connectionID: id
        )
        parser.remoteAddress = socket.peerAddress
        timer = LoopTimer(loop: loop)
        socket.delegate = self
    }

    /// Starts serving requests.
    func start() {
        adjustReading()
        updateDeadline()
    }

    /// Answers `status` without reading any request, then closes (used beyond `maxConnections`).
    func reject(status: Int) {
        isRejected = true
        intake = .finished
        send(ResponseSerializer.errorResponse(status: status))
        closeAfterFlush()
    }

    /// Whether the connection is serving (not closing or closed).
    var isOpen: Bool { state == .open }

    /// Whether nothing is in progress: no request arriving, no response outstanding.
    var isIdle: Bool {
        state == .open && writers.isEmpty && sequencer.isIdle && !parser.isInsideMessage && inbox.isEmpty
    }

    /// Bytes queued for this client that the kernel has not taken yet.
    var pendingWriteBytes: Int { socket.queuedWriteBytes }

    /// Stops taking new requests; in-flight responses complete and then the connection closes.
    func beginDrain() {
        guard state == .open, !isDraining else { return }
        isDraining = true
        intake = .finished
        inbox = []
        if continueSlot != nil {
            // A request still sending its body will not be served; tell the client so.
            respondWithError(status: 503)
        } else if writers.isEmpty, sequencer.isIdle {
            close()
        }
    }

    /// Closes the connection at once; unfinished responses get their `onClose`. Later calls are ignored.
    func close() {
        guard state != .closed else { return }
        state = .closed
        intake = .finished
        inbox = []
        timer.close()
        socket.close()
        abandonWriters()
        let onClosed = onClosed
        self.onClosed = nil
        onClosed?(self)
    }

    // MARK: - Called by response writers

    /// Queues response bytes for `slot`; they reach the wire once earlier responses are done.
    func write(_ bytes: [UInt8], for slot: ResponseSequencer.Slot) {
        guard state == .open else { return }
        send(sequencer.write(bytes, to: slot))
    }

    /// Marks `slot`'s response complete, releasing later responses and resuming a paused client.
    func finish(_ slot: ResponseSequencer.Slot, closesConnection: Bool) {
        writers[slot] = nil
        guard state == .open else { return }
        let release = sequencer.finish(slot, closesConnection: closesConnection)
        send(release.bytes)
        if release.closesConnection || (isDraining && sequencer.isIdle) {
            closeAfterFlush()
            return
        }
        if intake == .paused, sequencer.outstandingCount < configuration.maxPipelinedRequests {
            intake = .parsing
            // When called from inside the handler, the running `processInbox` loop picks this up.
            if !isProcessingInbox {
                processInbox()
            }
        }
        updateDeadline()
    }

    /// Whether the response in `slot` must close the connection because the server is draining.
    func mustClose(after slot: ResponseSequencer.Slot) -> Bool {
        isDraining && sequencer.newestSlot == slot
    }

    // MARK: - TCPSocketDelegate

    func socketDidRead(_ bytes: UnsafeRawBufferPointer) {
        // While closing, input is drained and dropped; after the last request it is ignored.
        guard state == .open, intake != .finished else { return }
        inbox.append(contentsOf: bytes)
        processInbox()
    }

    func socketDidEnd(status: Int32) {
        if status != UV_EOF.rawValue {
            logger.debug("read failed", metadata: ["error": "\(HTTPServerError.explain(status))"])
        }
        // A client that half-closes after its last request still wants the answer.
        let awaitingAnswer = !writers.isEmpty || !sequencer.isIdle
        if state == .open, status == UV_EOF.rawValue, intake == .finished, awaitingAnswer {
            peerFinishedSending = true
            return
        }
        // Otherwise the client has gone: stop everything, which cancels unfinished responses.
        close()
    }

    func socketWriteFailed(status: Int32) {
        logger.debug("write failed", metadata: ["error": "\(HTTPServerError.explain(status))"])
        close()
    }

    func socketDidClose() {
        close()
    }

    // MARK: - Requests

    /// Parses buffered input into requests until it runs out, the connection pauses, or it fails.
    private func processInbox() {
        guard !isProcessingInbox else { return }
        isProcessingInbox = true
        var offset = 0
        while state == .open, intake == .parsing, offset < inbox.count {
            let step = inbox.withUnsafeBytes { parser.parse(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
            offset += step.consumed
            for event in step.events where state == .open {
                handle(event)
            }
            if let failure = step.failure {
                if state == .open {
                    logger.debug("bad request", metadata: ["status": "\(failure.status)", "reason": "\(failure)"])
                    respondWithError(status: failure.status)
                }
                break
            }
            if step.consumed == 0, step.events.isEmpty {
                break
            }
        }
        if state == .open, intake != .finished {
            inbox.removeFirst(min(offset, inbox.count))
        } else {
            inbox = []
        }
        isProcessingInbox = false
        adjustReading()
        updateDeadline()
    }

    private func handle(_ event: HTTPRequestParser.Event) {
        switch event {
        case .expectsContinue:
            let slot = sequencer.open()
            continueSlot = slot
            send(sequencer.write(ResponseSerializer.continueResponse, to: slot))
        case .request(let request):
            let slot = continueSlot ?? sequencer.open()
            continueSlot = nil
            // The head deadline of this request must not carry over to the next one.
            disarmDeadline()
            let writer = HTTPResponseWriter(connection: self, loop: loop, slot: slot, request: request)
            writers[slot] = writer
            if !request.keepAlive {
                intake = .finished
            } else if sequencer.outstandingCount >= configuration.maxPipelinedRequests {
                intake = .paused
            }
            handler(request, writer)
        }
    }

    /// Queues a short error response after any earlier responses, then closes.
    private func respondWithError(status: Int) {
        intake = .finished
        let slot = continueSlot ?? sequencer.open()
        continueSlot = nil
        send(sequencer.write(ResponseSerializer.errorResponse(status: status), to: slot))
        finish(slot, closesConnection: true)
    }

    // MARK: - Socket I/O

    private func send(_ bytes: [UInt8]) {
        guard !bytes.isEmpty, state != .closed else { return }
        // A backlog past the limit means the client stopped reading: drop it rather than buffer without bound.
        if socket.queuedWriteBytes > configuration.maxPendingWriteBytes {
            logger.warning("client is not reading its responses; closing", metadata: ["queued": "\(socket.queuedWriteBytes)"])
            close()
            return
        }
        let status = socket.write(bytes)
        if status != 0 {
            socketWriteFailed(status: status)
        }
    }

    private func adjustReading() {
        guard state == .open else { return }
        if intake == .paused || peerFinishedSending {
            socket.stopReading()
        } else {
            let status = socket.startReading()
            if status != 0 {
                socketDidEnd(status: status)
            }
        }
    }

    /// Sends what is queued, then FIN, then drains input until the client closes or the linger time ends.
    private func closeAfterFlush() {
        guard state == .open else { return }
        state = .closing
        intake = .finished
        inbox = []
        continueSlot = nil
        abandonWriters()
        guard socket.shutdown() == 0 else {
            close()
            return
        }
        if !peerFinishedSending, socket.startReading() != 0 {
            close()
            return
        }
        arm(.linger, after: configuration.lingerTimeout)
    }

    private func abandonWriters() {
        let unfinished = writers.sorted { $0.key < $1.key }.map(\.value)
        writers = [:]
        for writer in unfinished {
            writer.connectionDidClose()
        }
    }

    // MARK: - Timeouts

    /// Points the timer at whichever limit applies now: head deadline, body stall, or idle.
    private func updateDeadline() {
        guard state == .open else { return }
        if intake == .parsing, parser.isReadingHead {
            // Counted from the request's first byte, so a slow trickle cannot extend it.
            if deadline != .head {
                arm(.head, after: configuration.headerReadTimeout)
            }
        } else if intake == .parsing, parser.isInsideMessage {
            arm(.bodyStall, after: configuration.headerReadTimeout)
        } else if isIdle {
            arm(.idle, after: configuration.idleTimeout)
        } else {
            // A response is being produced; generation may take as long as it takes.
            disarmDeadline()
        }
    }

    private func arm(_ purpose: Deadline, after delay: Duration) {
        deadline = purpose
        timer.schedule(after: delay) { [weak self] in
            self?.deadlinePassed(purpose)
        }
    }

    private func disarmDeadline() {
        guard deadline != .none else { return }
        deadline = .none
        timer.cancel()
    }

    private func deadlinePassed(_ purpose: Deadline) {
        deadline = .none
        switch purpose {
        case .idle, .linger:
            close()
        case .head, .bodyStall:
            guard state == .open else { return }
            logger.debug("request not received in time", metadata: ["phase": "\(purpose)"])
            respondWithError(status: 408)
        case .none:
            break
        }
    }
}
