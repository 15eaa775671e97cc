/// Limits and timeouts for an `HTTPServer`; the defaults suit a local inference server.
public struct HTTPServerConfiguration: Sendable {
    /// Numeric IPv4 or IPv6 address to listen on.
    public var host: String
    /// TCP port to listen on; 0 asks the system for a free one (see `HTTPServer.start()`).
    public var port: Int
    /// Length of the kernel's queue of not-yet-accepted connections.
    public var backlog: Int32
    /// Largest request line plus header fields, in bytes; a longer head gets 431 and the connection closes.
    ///
    /// libhttp-parser has its own compiled-in ceiling of 80 KiB, so larger values act as 80 KiB.
    public var maxHeaderBytes: Int
    /// Largest request body, in bytes (after chunked decoding); a larger one gets 413 and the connection closes.
    public var maxBodyBytes: Int
    /// Time a client has from the first byte of a request to the end of its headers; then 408 and close.
    ///
    /// The same limit applies to gaps while a body is arriving: a body that stalls for longer gets 408.
    public var headerReadTimeout: Duration
    /// How long a keep-alive connection may sit with nothing to do before it is closed silently.
    ///
    /// A freshly accepted connection that sends nothing counts as idle too.
    public var idleTimeout: Duration
    /// Most connections served at once; one more is answered 503 and closed.
    public var maxConnections: Int
    /// Most requests per connection that may await their responses at once.
    ///
    /// When a pipelining client reaches it the server stops reading from that connection
    /// (TCP backpressure) until a response completes; nothing is rejected.
    public var maxPipelinedRequests: Int
    /// Largest backlog of unsent response bytes before another write declares the client stalled and closes it.
    ///
    /// One large `respond` is always accepted; the limit stops a stream to a client that
    /// never reads from growing without bound.
    public var maxPendingWriteBytes: Int
    /// How long a closing connection keeps draining the client's unread input before it is dropped.
    ///
    /// Reading it first lets the client see the final response instead of a TCP reset.
    public var lingerTimeout: Duration

    /// Creates a configuration; every parameter has the documented default.
    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        backlog: Int32 = 511,
        maxHeaderBytes: Int = 16 * 1024,
        maxBodyBytes: Int = 1024 * 1024,
        headerReadTimeout: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(60),
        maxConnections: Int = 1024,
        maxPipelinedRequests: Int = 16,
        maxPendingWriteBytes: Int = 8 * 1024 * 1024,
        lingerTimeout: Duration = .seconds(2)
    ) {
        precondition(maxHeaderBytes > 0 && maxBodyBytes >= 0, "size limits must be positive")
        precondition(maxConnections > 0 && maxPipelinedRequests > 0, "connection limits must be positive")
        self.host = host
        self.port = port
        self.backlog = backlog
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
        self.headerReadTimeout = headerReadTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.maxPipelinedRequests = maxPipelinedRequests
        self.maxPendingWriteBytes = maxPendingWriteBytes
        self.lingerTimeout = lingerTimeout
    }
}
