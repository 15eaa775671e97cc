/// A queue of closures that any thread may `post`, run in order on the loop thread.
///
/// This is how work done elsewhere (the engine thread, a thread pool) hands results back to
/// loop-confined objects such as `HTTPResponseWriter`:
///
///     bridge.post { writer.writeChunk(token) }
public final class LoopBridge: Sendable {
    private let loop: EventLoop
    private let jobs: JobQueue
    private let waker: LoopWaker

    /// Creates the bridge on the loop thread; while open it keeps the loop running.
    public init(loop: EventLoop) throws(HTTPServerError) {
        let jobs = JobQueue()
        self.loop = loop
        self.jobs = jobs
        // The waker may fire once for many posts (libuv coalesces), so each wake drains the whole queue.
        waker = try LoopWaker(loop: loop) { jobs.runAll() }
    }

    /// Queues `job` to run on the loop thread; returns false (and drops it) once the bridge is closed.
    @discardableResult
    public func post(_ job: @escaping @Sendable () -> Void) -> Bool {
        switch jobs.append(job) {
        case .refused:
            return false
        case .queuedBehindOthers:
            // A wake-up is already pending for the jobs ahead of this one; it will run this too.
            return true
        case .queuedFirst:
            waker.wake()
            return true
        }
    }

    /// Runs every job already accepted, then refuses new ones and releases the loop; call on the loop thread.
    public func close() {
        precondition(loop.isLoopThread, "LoopBridge.close must be called on the loop thread")
        // A post that returned true must run, so take the last stragglers atomically with closing.
        for job in jobs.closeAndTakeRemaining() {
            job()
        }
        waker.close()
    }
}

/// The mutex-guarded list behind `LoopBridge`.
private final class JobQueue: Sendable {
    enum AppendResult { case queuedFirst, queuedBehindOthers, refused }

    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var isOpen = true
    }

    private let state = Locked(State())

    func append(_ job: @escaping @Sendable () -> Void) -> AppendResult {
        state.withLock { state in
            guard state.isOpen else { return .refused }
            state.jobs.append(job)
            return state.jobs.count == 1 ? .queuedFirst : .queuedBehindOthers
        }
    }

    /// Takes the whole queue under the lock and runs it outside the lock, so jobs may post again.
    func runAll() {
        let batch = state.withLock { state in
            let batch = state.jobs
            state.jobs.removeAll(keepingCapacity: true)
            return batch
        }
        for job in batch {
            job()
        }
    }

    func closeAndTakeRemaining() -> [@Sendable () -> Void] {
        state.withLock { state in
            state.isOpen = false
            defer { state.jobs.removeAll() }
            return state.jobs
        }
    }
}
