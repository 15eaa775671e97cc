import Dispatch
import Foundation
import HTTPServer

/// Runs an `EventLoop` with a `LoopBridge` on its own thread, as the real server does.
final class LoopHarness: @unchecked Sendable {
    // Unchecked: `loop` and `bridge` are created on the loop thread and then only used there,
    // except `bridge.post`, which is thread-safe.
    let loop: EventLoop
    let bridge: LoopBridge
    private let finished = DispatchSemaphore(value: 0)

    /// Starts the loop thread and runs `setup` on it before the loop starts.
    init(setup: @escaping @Sendable (EventLoop, LoopBridge) throws -> Void = { _, _ in }) throws {
        let ready = DispatchSemaphore(value: 0)
        // Written on the loop thread before `ready.signal()`, read here after `ready.wait()`.
        let outcome = UncheckedBox<Result<(EventLoop, LoopBridge), any Error>?>(nil)
        let finished = finished
        let thread = Thread {
            do {
                let loop = try EventLoop()
                let bridge = try LoopBridge(loop: loop)
                try setup(loop, bridge)
                outcome.value = .success((loop, bridge))
                ready.signal()
                loop.run()
                loop.close()
            } catch {
                outcome.value = .failure(error)
                ready.signal()
            }
            finished.signal()
        }
        thread.start()
        ready.wait()
        (loop, bridge) = try outcome.value!.get()
    }

    /// Runs `body` on the loop thread and returns its result, waiting at most `timeout` seconds.
    func onLoop<T>(timeout: Double = 10, _ body: @escaping @Sendable () -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let result = UncheckedBox<T?>(nil)
        bridge.post {
            result.value = body()
            done.signal()
        }
        guard done.wait(timeout: .now() + timeout) == .success else {
            throw TestClientError(description: "loop did not answer within \(timeout) s")
        }
        return result.value!
    }

    /// Runs `teardown` on the loop; when it calls back, closes the bridge, stops and closes the loop.
    func stop(timeout: Double = 10, _ teardown: @escaping @Sendable (@escaping () -> Void) -> Void = { $0() }) {
        let loop = loop, bridge = bridge
        bridge.post {
            teardown {
                bridge.close()
                loop.stop()
            }
        }
        _ = finished.wait(timeout: .now() + timeout)
    }
}

/// A mutable box for values handed between threads that the test synchronises itself.
final class UncheckedBox<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}

/// A counter that any thread may bump and read.
final class Counter: @unchecked Sendable {
    // Unchecked because `count` is only touched while `lock` is held.
    private let lock = NSLock()
    private var count = 0

    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

/// Polls `condition` until it holds or `timeout` seconds pass; returns whether it held.
func eventually(timeout: Double = 5, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = TestClient.now() + timeout
    while TestClient.now() < deadline {
        if try condition() { return true }
        usleep(10_000)
    }
    return try condition()
}
