import CLibUV

/// Wakes the loop thread from any thread; the wake-up callback runs on the loop thread.
///
/// libuv coalesces wake-ups: several `wake()` calls made before the loop gets round to them
/// produce ONE callback. The callback must therefore drain everything that was queued for it,
/// never just one item. `LoopBridge` is the ready-made queue that does this.
public final class LoopWaker: LoopHandleOwner, @unchecked Sendable {
    // Unchecked because `handle` and `onWake` are used on the loop thread only, except for
    // `uv_async_send` in `wake()`, which libuv makes thread-safe. `isOpen` orders that send
    // against `close()`, so no thread can send to a handle that is being freed.
    private let loop: EventLoop
    private let handle: UnsafeMutablePointer<uv_async_t>
    private let onWake: () -> Void
    private let isOpen = Locked(true)

    /// Creates the waker on the loop thread; `onWake` runs on the loop thread after one or more `wake()` calls.
    public init(loop: EventLoop, onWake: @escaping () -> Void) throws(HTTPServerError) {
        precondition(loop.isLoopThread, "LoopWaker must be created on the loop thread")
        self.loop = loop
        self.onWake = onWake
        handle = LoopHandle.allocate(uv_async_t.self, kind: UV_ASYNC)
        let status = uv_async_init(loop.raw, handle) { handle in
            guard let handle else { return }
            LoopHandle.owner(ofHandle: handle, as: LoopWaker.self).onWake()
        }
        guard status == 0 else {
            LoopHandle.deallocateUninitialised(handle)
            throw .libuv(operation: "uv_async_init", code: status)
        }
        LoopHandle.attach(self, to: LoopHandle.base(handle))
    }

    /// Schedules `onWake` on the loop thread; safe from any thread, and a no-op after `close()`.
    public func wake() {
        isOpen.withLock { open in
            if open {
                uv_async_send(handle)
            }
        }
    }

    /// Stops the waker; call on the loop thread. Later `wake()` calls do nothing.
    public func close() {
        precondition(loop.isLoopThread, "LoopWaker.close must be called on the loop thread")
        let wasOpen = isOpen.withLock { open in
            defer { open = false }
            return open
        }
        if wasOpen {
            LoopHandle.close(LoopHandle.base(handle))
        }
    }
}
