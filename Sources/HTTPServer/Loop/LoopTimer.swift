import CLibUV

/// A libuv timer on the loop thread: fires once or repeatedly until cancelled; `close()` it when done.
///
/// Named `LoopTimer` rather than `Timer` so that files importing Foundation as well don't
/// run into an ambiguous name.
public final class LoopTimer: LoopHandleOwner, @unchecked Sendable {
    // Unchecked because every member is used on the loop thread only (checked with preconditions).
    private let loop: EventLoop
    private let handle: UnsafeMutablePointer<uv_timer_t>
    private var action: (() -> Void)?
    private var isRepeating = false
    private var isClosed = false

    /// Creates an idle timer on the loop thread.
    public init(loop: EventLoop) {
        precondition(loop.isLoopThread, "LoopTimer must be created on the loop thread")
        self.loop = loop
        handle = LoopHandle.allocate(uv_timer_t.self, kind: UV_TIMER)
        // uv_timer_init only records the loop; it cannot fail.
        let status = uv_timer_init(loop.raw, handle)
        precondition(status == 0, "uv_timer_init failed: \(status)")
        LoopHandle.attach(self, to: LoopHandle.base(handle))
    }

    /// Whether the timer is waiting to fire.
    public var isScheduled: Bool {
        !isClosed && uv_is_active(LoopHandle.base(handle)) != 0
    }

    /// Fires `action` after `delay`, then every `interval` if given; replaces any earlier schedule.
    public func schedule(after delay: Duration, repeating interval: Duration? = nil, _ action: @escaping () -> Void) {
        precondition(loop.isLoopThread, "LoopTimer.schedule must be called on the loop thread")
        guard !isClosed else { return }
        self.action = action
        isRepeating = interval != nil
        let repeatMilliseconds = interval.map { max(1, $0.libuvMilliseconds) } ?? 0
        uv_timer_start(handle, { handle in
            guard let handle else { return }
            let timer = LoopHandle.owner(ofHandle: handle, as: LoopTimer.self)
            let action = timer.action
            // Drop a one-shot action once it has fired, so closures capturing their owner don't linger.
            if !timer.isRepeating {
                timer.action = nil
            }
            action?()
        }, delay.libuvMilliseconds, repeatMilliseconds)
    }

    /// Stops the timer without closing it; it can be scheduled again.
    public func cancel() {
        precondition(loop.isLoopThread, "LoopTimer.cancel must be called on the loop thread")
        guard !isClosed else { return }
        uv_timer_stop(handle)
        action = nil
    }

    /// Stops the timer for good and releases its handle; later calls are ignored.
    public func close() {
        precondition(loop.isLoopThread, "LoopTimer.close must be called on the loop thread")
        guard !isClosed else { return }
        isClosed = true
        action = nil
        LoopHandle.close(LoopHandle.base(handle))
    }
}
