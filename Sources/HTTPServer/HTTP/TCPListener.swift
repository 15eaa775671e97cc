import CLibUV

/// The listening socket: binds, listens, and reports each incoming connection on the loop thread.
final class TCPListener: LoopHandleOwner {
    private let handle: UnsafeMutablePointer<uv_tcp_t>
    private var onConnection: ((Int32) -> Void)?
    private(set) var isClosed = false

    /// Creates an unbound TCP handle on the loop thread.
    init(loop: EventLoop) {
        handle = LoopHandle.allocate(uv_tcp_t.self, kind: UV_TCP)
        // uv_tcp_init without flags allocates no socket yet, so it cannot fail in practice.
        let status = uv_tcp_init(loop.raw, handle)
        precondition(status == 0, "uv_tcp_init failed: \(status)")
        LoopHandle.attach(self, to: LoopHandle.base(handle))
    }

    /// The handle as a stream, for `uv_accept`.
    var stream: UnsafeMutablePointer<uv_stream_t> { LoopHandle.stream(handle) }

    /// Binds to `host:port`, starts listening and returns the port actually bound (useful when `port` is 0).
    func listen(
        host: String,
        port: Int,
        backlog: Int32,
        onConnection: @escaping (Int32) -> Void
    ) throws(HTTPServerError) -> Int {
        var address = try SocketAddress.make(host: host, port: port)
        let bindStatus = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_bind(handle, $0, 0) }
        }
        guard bindStatus == 0 else { throw .bindFailed(host: host, port: port, code: bindStatus) }

        self.onConnection = onConnection
        let listenStatus = uv_listen(stream, backlog) { server, status in
            guard let server else { return }
            LoopHandle.owner(ofHandle: server, as: TCPListener.self).onConnection?(status)
        }
        guard listenStatus == 0 else {
            // libuv reports a taken address at listen time rather than at bind time.
            if listenStatus == UV_EADDRINUSE.rawValue {
                throw .bindFailed(host: host, port: port, code: listenStatus)
            }
            throw .listenFailed(code: listenStatus)
        }

        let bound = SocketAddress.query { uv_tcp_getsockname(handle, $0, $1) }
        return bound.flatMap(SocketAddress.port(of:)) ?? port
    }

    /// Stops listening and releases the handle; later calls are ignored.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        onConnection = nil
        LoopHandle.close(LoopHandle.base(handle))
    }
}
