import CLibUV
import Glibc

/// One libuv event loop, confined to the thread that runs it; every handle in this module belongs to one.
///
/// Create the loop and its handles on one thread, then call `run()` on the thread that will
/// own it from then on (it may be the same thread). Other threads talk to the loop only
/// through `LoopWaker.wake()` or `LoopBridge.post(_:)`.
public final class EventLoop: @unchecked Sendable {
    // Unchecked because `raw` and `isClosed` are used only by the owning thread (checked with
    // preconditions); the owner's identity itself is read from any thread, so it sits behind a lock.
    let raw: UnsafeMutablePointer<uv_loop_t>
    private let owner: Locked<pthread_t>
    private var isClosed = false
    private var isRunning = false

    /// Creates a loop owned by the calling thread until `run()` is called elsewhere.
    public init() throws(HTTPServerError) {
        raw = .allocate(capacity: 1)
        let status = uv_loop_init(raw)
        guard status == 0 else {
            raw.deallocate()
            throw .libuv(operation: "uv_loop_init", code: status)
        }
        owner = Locked(pthread_self())
    }

    deinit {
        // A loop that was never closed may still have handles; leaking it beats freeing live memory.
        if !isClosed, uv_loop_close(raw) == 0 {
            raw.deallocate()
        }
    }

    /// Whether the caller is the thread that owns this loop (the one running, or last to run, it).
    public var isLoopThread: Bool {
        let ownerThread = owner.withLock { $0 }
        return pthread_equal(ownerThread, pthread_self()) != 0
    }

    /// Runs the loop on the calling thread until `stop()` is called or nothing is left to wait for.
    ///
    /// The calling thread becomes the loop thread. A `LoopBridge` or a listening server keeps
    /// the loop alive, so in practice `run()` returns after `stop()` or once everything is closed.
    public func run() {
        precondition(!isClosed, "EventLoop.run() after close()")
        precondition(!isRunning, "EventLoop.run() while already running")
        owner.withLock { $0 = pthread_self() }
        isRunning = true
        uv_run(raw, UV_RUN_DEFAULT)
        isRunning = false
    }

    /// Makes `run()` return after the current iteration; call it on the loop thread (post it from elsewhere).
    public func stop() {
        precondition(isLoopThread, "EventLoop.stop() must be called on the loop thread")
        uv_stop(raw)
    }

    /// Closes every handle still open, lets their close callbacks run, and frees the loop.
    ///
    /// Call it on the loop thread after `run()` has returned. Owners are asked to close
    /// themselves, so connections still tell their writers (`onClose`) as usual.
    public func close() {
        precondition(isLoopThread, "EventLoop.close() must be called on the loop thread")
        precondition(!isRunning, "EventLoop.close() must be called after run() has returned")
        guard !isClosed else { return }
        // Closing an owner can open nothing new in practice, but loop a few times to be sure.
        for _ in 0..<8 {
            closeOpenHandles()
            uv_run(raw, UV_RUN_DEFAULT)
            if uv_loop_close(raw) == 0 {
                isClosed = true
                raw.deallocate()
                return
            }
        }
        // Still busy (for example thread-pool work that never finishes): leak rather than crash.
        isClosed = true
    }

    /// Monotonic loop time in milliseconds, cached by libuv at the start of each iteration.
    var now: UInt64 { uv_now(raw) }

    private func closeOpenHandles() {
        var handles: [UnsafeMutablePointer<uv_handle_t>] = []
        withUnsafeMutablePointer(to: &handles) { list in
            uv_walk(raw, { handle, argument in
                guard let handle, let argument, uv_is_closing(handle) == 0 else { return }
                argument.assumingMemoryBound(to: [UnsafeMutablePointer<uv_handle_t>].self).pointee.append(handle)
            }, list)
        }
        for handle in handles where uv_is_closing(handle) == 0 {
            if let data = handle.pointee.data,
               let owner = Unmanaged<AnyObject>.fromOpaque(data).takeUnretainedValue() as? LoopHandleOwner {
                owner.close()
            }
            // An owner may leave a secondary handle open; close that directly.
            if uv_is_closing(handle) == 0 {
                LoopHandle.close(handle)
            }
        }
    }
}
