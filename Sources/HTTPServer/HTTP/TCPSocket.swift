import CLibUV

/// What a `TCPSocket` reports to the connection that uses it, always on the loop thread.
protocol TCPSocketDelegate: AnyObject {
    /// Bytes arrived; they are valid only during the call.
    func socketDidRead(_ bytes: UnsafeRawBufferPointer)
    /// The peer finished sending (`UV_EOF`) or reading failed (a negative libuv error).
    func socketDidEnd(status: Int32)
    /// A queued write or the final shutdown failed, typically EPIPE or ECONNRESET.
    func socketWriteFailed(status: Int32)
    /// The socket was closed, by its user or by `EventLoop.close()`.
    func socketDidClose()
}

/// One accepted TCP stream: reading into a shared buffer, writing copies of byte arrays, closing.
final class TCPSocket: LoopHandleOwner {
    weak var delegate: TCPSocketDelegate?
    private let handle: UnsafeMutablePointer<uv_tcp_t>
    private let readBuffer: ReadBuffer
    private var isReading = false
    private(set) var isClosed = false

    /// Creates the TCP handle on the loop thread; `accept(from:)` then attaches it to a client.
    init(loop: EventLoop, readBuffer: ReadBuffer) {
        self.readBuffer = readBuffer
        handle = LoopHandle.allocate(uv_tcp_t.self, kind: UV_TCP)
        let status = uv_tcp_init(loop.raw, handle)
        precondition(status == 0, "uv_tcp_init failed: \(status)")
        LoopHandle.attach(self, to: LoopHandle.base(handle))
    }

    private var stream: UnsafeMutablePointer<uv_stream_t> { LoopHandle.stream(handle) }

    /// Takes the next pending connection from `listener`; returns 0 or a libuv error.
    func accept(from listener: UnsafeMutablePointer<uv_stream_t>) -> Int32 {
        let status = uv_accept(listener, stream)
        if status == 0 {
            // Small writes (a chunk per generated token) must leave at once, not wait for Nagle.
            uv_tcp_nodelay(handle, 1)
        }
        return status
    }

    /// The client's address as "ip:port".
    var peerAddress: String {
        SocketAddress.query { uv_tcp_getpeername(handle, $0, $1) }.map(SocketAddress.describe) ?? "unknown"
    }

    /// Bytes handed to libuv that the kernel has not taken yet.
    var queuedWriteBytes: Int {
        isClosed ? 0 : Int(stream.pointee.write_queue_size)
    }

    /// Starts delivering reads to the delegate; returns 0 or a libuv error.
    func startReading() -> Int32 {
        guard !isClosed, !isReading else { return 0 }
        let status = uv_read_start(stream, { handle, _, buffer in
            guard let handle, let buffer else { return }
            // Reads are consumed synchronously in the read callback, so one buffer serves every socket.
            let socket = LoopHandle.owner(ofHandle: handle, as: TCPSocket.self)
            buffer.pointee = uv_buf_init(socket.readBuffer.base, UInt32(socket.readBuffer.size))
        }, { stream, count, buffer in
            guard let stream else { return }
            let socket = LoopHandle.owner(ofHandle: stream, as: TCPSocket.self)
            socket.didRead(count: count, base: buffer?.pointee.base)
        })
        isReading = status == 0
        return status
    }

    /// Stops delivering reads, leaving unread data in the kernel (which is what pushes back on the client).
    func stopReading() {
        guard !isClosed, isReading else { return }
        uv_read_stop(stream)
        isReading = false
    }

    /// Queues a copy of `bytes`; returns 0 or a libuv error. Failures that happen later reach the delegate.
    func write(_ bytes: [UInt8]) -> Int32 {
        guard !isClosed, !bytes.isEmpty else { return 0 }
        let request = WriteRequest(socket: self, bytes: bytes)
        var buffer = uv_buf_init(request.storage, UInt32(bytes.count))
        let status = uv_write(request.raw, stream, &buffer, 1) { raw, status in
            guard let raw else { return }
            let request = Unmanaged<WriteRequest>.fromOpaque(raw.pointee.data).takeRetainedValue()
            // UV_ECANCELED means we closed the socket ourselves; nothing to report.
            if status < 0, status != UV_ECANCELED.rawValue, !request.socket.isClosed {
                request.socket.delegate?.socketWriteFailed(status: status)
            }
        }
        if status != 0 {
            Unmanaged.passUnretained(request).release()
        }
        return status
    }

    /// Sends FIN once queued writes are out; returns 0 or a libuv error. Reading can go on.
    func shutdown() -> Int32 {
        guard !isClosed else { return 0 }
        let request = UnsafeMutableRawPointer.allocate(byteCount: uv_req_size(UV_SHUTDOWN), alignment: 16)
            .bindMemory(to: uv_shutdown_t.self, capacity: 1)
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let status = uv_shutdown(request, stream) { request, status in
            guard let request else { return }
            let socket = Unmanaged<TCPSocket>.fromOpaque(request.pointee.data).takeRetainedValue()
            UnsafeMutableRawPointer(request).deallocate()
            if status < 0, status != UV_ECANCELED.rawValue, !socket.isClosed {
                socket.delegate?.socketWriteFailed(status: status)
            }
        }
        if status != 0 {
            Unmanaged<TCPSocket>.fromOpaque(request.pointee.data).release()
            UnsafeMutableRawPointer(request).deallocate()
        }
        return status
    }

    /// Closes the socket at once (pending writes are cancelled) and tells the delegate; later calls are ignored.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        isReading = false
        LoopHandle.close(LoopHandle.base(handle))
        delegate?.socketDidClose()
    }

    private func didRead(count: Int, base: UnsafeMutablePointer<CChar>?) {
        guard !isClosed else { return }
        if count > 0, let base {
            delegate?.socketDidRead(UnsafeRawBufferPointer(start: base, count: count))
        } else if count < 0 {
            // EOF or an error: libuv has stopped reading already; make sure it stays that way.
            stopReading()
            delegate?.socketDidEnd(status: Int32(count))
        }
        // count == 0 is libuv's "nothing this time" (EAGAIN); there is nothing to do.
    }
}

/// One `uv_write` in flight: the request and a private copy of the bytes, freed when libuv is done.
private final class WriteRequest {
    let socket: TCPSocket
    let raw: UnsafeMutablePointer<uv_write_t>
    let storage: UnsafeMutablePointer<CChar>

    init(socket: TCPSocket, bytes: [UInt8]) {
        self.socket = socket
        raw = UnsafeMutableRawPointer.allocate(byteCount: uv_req_size(UV_WRITE), alignment: 16)
            .bindMemory(to: uv_write_t.self, capacity: 1)
        storage = .allocate(capacity: bytes.count)
        bytes.withUnsafeBytes { source in
            UnsafeMutableRawPointer(storage).copyMemory(from: source.baseAddress!, byteCount: source.count)
        }
        // The request keeps itself alive until the write callback takes this retain back.
        raw.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    deinit {
        storage.deallocate()
        UnsafeMutableRawPointer(raw).deallocate()
    }
}

/// The read buffer shared by all sockets of one server; freed when the last socket lets go.
final class ReadBuffer {
    let base: UnsafeMutablePointer<CChar>
    let size: Int

    init(size: Int) {
        self.size = size
        base = .allocate(capacity: size)
    }

    deinit {
        base.deallocate()
    }
}
