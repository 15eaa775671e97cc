import CLibUV

extension EventLoop {
    /// Runs `work` on libuv's thread pool, then `completion` with its result on the loop thread.
    ///
    /// Meant for short blocking calls (file reads, DNS) that must not stall the loop. The pool
    /// is small (4 threads unless `UV_THREADPOOL_SIZE` says otherwise), so long-running jobs
    /// such as model inference belong on their own thread with a `LoopBridge` instead.
    public func runBlocking<Result: Sendable>(
        _ work: @escaping @Sendable () -> Result,
        then completion: @escaping (Result) -> Void
    ) {
        precondition(isLoopThread, "runBlocking must be called on the loop thread")
        let slot = ResultSlot<Result>()
        let item = BlockingWork(
            perform: { slot.value = work() },
            finish: { if let value = slot.value { completion(value) } }
        )
        let request = UnsafeMutableRawPointer.allocate(byteCount: uv_req_size(UV_WORK), alignment: 16)
            .bindMemory(to: uv_work_t.self, capacity: 1)
        request.pointee.data = Unmanaged.passRetained(item).toOpaque()
        let status = uv_queue_work(raw, request, { request in
            guard let request else { return }
            Unmanaged<BlockingWork>.fromOpaque(request.pointee.data).takeUnretainedValue().perform()
        }, { request, status in
            guard let request else { return }
            let item = Unmanaged<BlockingWork>.fromOpaque(request.pointee.data).takeRetainedValue()
            UnsafeMutableRawPointer(request).deallocate()
            // UV_ECANCELED only happens if the work never started; then there is no result to report.
            if status == 0 {
                item.finish()
            }
        })
        // uv_queue_work fails only for a missing work callback, which cannot happen here.
        precondition(status == 0, "uv_queue_work failed: \(status)")
    }
}

/// The closures of one `runBlocking` call, kept alive by the request until its completion runs.
private final class BlockingWork: @unchecked Sendable {
    // Unchecked because `perform` runs on one pool thread and `finish` later on the loop
    // thread; libuv's completion hand-off orders the two.
    let perform: () -> Void
    let finish: () -> Void

    init(perform: @escaping () -> Void, finish: @escaping () -> Void) {
        self.perform = perform
        self.finish = finish
    }
}

/// Carries a result from the pool thread to the loop thread.
private final class ResultSlot<Value>: @unchecked Sendable {
    // Unchecked because the pool thread writes once before libuv signals completion, and the
    // loop thread reads only after that signal.
    var value: Value?
}
