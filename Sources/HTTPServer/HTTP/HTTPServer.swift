import Glibc
import Logging

/// An HTTP/1.1 server on one `EventLoop`: accepts connections and calls the handler for each request.
///
/// Loop-thread confined: create it, `start()` it and `shutdown` it on the loop thread.
/// The handler runs on the loop thread and must not block; it answers through the
/// `HTTPResponseWriter`, at once or later from a closure posted with `LoopBridge`.
/// Every request must be answered (`respond`, or `startStream` … `endStream`): until it is,
/// later responses on that connection wait and the connection is never idle.
///
/// Connection behaviour in brief:
/// - Keep-alive by default for HTTP/1.1, on request for HTTP/1.0; pipelined requests are
///   handed to the handler as they arrive and answered strictly in order.
/// - Oversized or malformed requests get 431/413/400, a stalled head or body 408; each then closes.
/// - A client that closes its sending side counts as gone (its unfinished responses get
///   `onClose`), unless its last request said `Connection: close`, in which case it is answered first.
public final class HTTPServer: @unchecked Sendable {
    // Unchecked because every member is used on the loop thread only (checked with preconditions);
    // Sendable so other threads can post closures that capture the server, such as a shutdown.

    /// Receives each complete request and the writer for its response, on the loop thread.
    public typealias Handler = (HTTPRequest, HTTPResponseWriter) -> Void

    /// The limits this server was created with.
    public let configuration: HTTPServerConfiguration
    /// The port the server listens on, once `start()` has succeeded.
    public private(set) var port: Int?

    private let loop: EventLoop
    private let logger: Logger
    private let handler: Handler
    private let readBuffer = ReadBuffer(size: 64 * 1024)
    private var listener: TCPListener?
    private var connections: [UInt64: HTTPConnection] = [:]
    /// Connections being served, i.e. not counting those only being told 503.
    private var servedCount = 0
    private var nextConnectionID: UInt64 = 1
    private var isDraining = false
    private var hasShutDown = false
    private var shutdownCompletions: [() -> Void] = []
    private var shutdownTimer: LoopTimer?

    /// Creates a server; nothing happens on the network until `start()`.
    public init(
        loop: EventLoop,
        configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
        logger: Logger = Logger(label: "switchboard.http"),
        handler: @escaping Handler
    ) {
        self.loop = loop
        self.configuration = configuration
        self.logger = logger
        self.handler = handler
    }

    /// Number of open client connections, including ones being closed or refused.
    public var connectionCount: Int {
        precondition(loop.isLoopThread, "HTTPServer used off the loop thread")
        return connections.count
    }

    /// Binds and listens, returning the port actually bound (the system picks one when the configured port is 0).
    @discardableResult
    public func start() throws(HTTPServerError) -> Int {
        precondition(loop.isLoopThread, "HTTPServer.start must be called on the loop thread")
        precondition(listener == nil && port == nil, "HTTPServer.start called twice")
        // A client that vanishes mid-write must show up as EPIPE from write(), not kill the process.
        signal(SIGPIPE, SIG_IGN)
        let listener = TCPListener(loop: loop)
        let boundPort: Int
        do {
            boundPort = try listener.listen(
                host: configuration.host,
                port: configuration.port,
                backlog: configuration.backlog
            ) { [weak self] status in
                self?.acceptConnection(status: status)
            }
        } catch {
            listener.close()
            throw error
        }
        self.listener = listener
        port = boundPort
        logger.info("listening", metadata: ["host": "\(configuration.host)", "port": "\(boundPort)"])
        return boundPort
    }

    /// Closes the listening socket; existing connections carry on.
    public func stopAccepting() {
        precondition(loop.isLoopThread, "HTTPServer used off the loop thread")
        listener?.close()
        listener = nil
    }

    /// Closes keep-alive connections that are between requests.
    public func closeIdleConnections() {
        precondition(loop.isLoopThread, "HTTPServer used off the loop thread")
        for connection in Array(connections.values) where connection.isIdle {
            connection.close()
        }
    }

    /// Graceful stop: no new connections or requests, in-flight responses finish, idle connections close.
    ///
    /// `completion` runs on the loop thread once no connection remains, or after `deadline`,
    /// when stragglers are closed by force (their writers get `onClose`). It may run before
    /// this call returns. Calling again is allowed; every completion runs.
    public func shutdown(deadline: Duration, completion: @escaping () -> Void) {
        precondition(loop.isLoopThread, "HTTPServer.shutdown must be called on the loop thread")
        stopAccepting()
        guard !hasShutDown else {
            completion()
            return
        }
        shutdownCompletions.append(completion)
        guard !isDraining else { return }
        isDraining = true
        logger.info("shutting down", metadata: ["connections": "\(connections.count)"])
        for connection in Array(connections.values) {
            connection.beginDrain()
        }
        // Draining may already have closed the last connection and finished the shutdown.
        guard isDraining else { return }
        if connections.isEmpty {
            finishShutdown()
            return
        }
        let timer = LoopTimer(loop: loop)
        shutdownTimer = timer
        timer.schedule(after: deadline) { [weak self] in
            self?.closeRemainingConnections()
        }
    }

    private func acceptConnection(status: Int32) {
        guard status == 0 else {
            // Typically EMFILE; libuv keeps listening, so log and carry on.
            logger.warning("accept failed", metadata: ["error": "\(HTTPServerError.explain(status))"])
            return
        }
        guard let listener else { return }
        let socket = TCPSocket(loop: loop, readBuffer: readBuffer)
        let acceptStatus = socket.accept(from: listener.stream)
        guard acceptStatus == 0 else {
            logger.warning("accept failed", metadata: ["error": "\(HTTPServerError.explain(acceptStatus))"])
            socket.close()
            return
        }
        let id = nextConnectionID
        nextConnectionID += 1
        var connectionLogger = logger
        connectionLogger[metadataKey: "connection"] = "\(id)"
        let connection = HTTPConnection(
            id: id,
            loop: loop,
            socket: socket,
            configuration: configuration,
            logger: connectionLogger,
            handler: handler
        )
        connections[id] = connection
        connection.onClosed = { [weak self] connection in
            self?.connectionClosed(connection)
        }
        if servedCount >= configuration.maxConnections {
            logger.warning("connection limit reached; answering 503", metadata: ["limit": "\(configuration.maxConnections)"])
            connection.reject(status: 503)
        } else {
            servedCount += 1
            connection.start()
        }
    }

    private func connectionClosed(_ connection: HTTPConnection) {
        guard connections.removeValue(forKey: connection.id) != nil else { return }
        if !connection.isRejected {
            servedCount -= 1
        }
        if isDraining, connections.isEmpty {
            finishShutdown()
        }
    }

    private func closeRemainingConnections() {
        logger.warning("shutdown deadline passed; closing connections", metadata: ["connections": "\(connections.count)"])
        for connection in Array(connections.values) {
            connection.close()
        }
    }

    private func finishShutdown() {
        isDraining = false
        hasShutDown = true
        shutdownTimer?.close()
        shutdownTimer = nil
        let completions = shutdownCompletions
        shutdownCompletions = []
        logger.info("shut down")
        for completion in completions {
            completion()
        }
    }
}
