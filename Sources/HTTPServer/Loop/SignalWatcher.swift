import CLibUV

/// Delivers a process signal (SIGINT, SIGTERM, ...) as a callback on the loop thread.
///
/// libuv turns the asynchronous signal into an ordinary loop event, so the callback may do
/// anything a loop callback may do, such as starting a graceful `HTTPServer.shutdown`.
public final class SignalWatcher: LoopHandleOwner, @unchecked Sendable {
    // Unchecked because every member is used on the loop thread only.
    private let handle: UnsafeMutablePointer<uv_signal_t>
    private let onSignal: (Int32) -> Void
    private var isClosed = false

    /// Starts watching `signal` on the loop thread; `onSignal` receives the signal number.
    public init(loop: EventLoop, signal: Int32, onSignal: @escaping (Int32) -> Void) throws(HTTPServerError) {
        precondition(loop.isLoopThread, "SignalWatcher must be created on the loop thread")
        self.onSignal = onSignal
        handle = LoopHandle.allocate(uv_signal_t.self, kind: UV_SIGNAL)
        let initStatus = uv_signal_init(loop.raw, handle)
        guard initStatus == 0 else {
            LoopHandle.deallocateUninitialised(handle)
            throw .libuv(operation: "uv_signal_init", code: initStatus)
        }
        LoopHandle.attach(self, to: LoopHandle.base(handle))
        let startStatus = uv_signal_start(handle, { handle, signal in
            guard let handle else { return }
            LoopHandle.owner(ofHandle: handle, as: SignalWatcher.self).onSignal(signal)
        }, signal)
        guard startStatus == 0 else {
            close()
            throw .libuv(operation: "uv_signal_start", code: startStatus)
        }
    }

    /// Stops watching and releases the handle; later calls are ignored.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        LoopHandle.close(LoopHandle.base(handle))
    }
}
