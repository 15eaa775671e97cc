import Foundation
import HTTPServer
import Testing

@Suite("Event loop helpers")
struct EventLoopTests {
    @Test("posts from 8 threads × 1000 all run on the loop thread exactly once, in each thread's order")
    func bridgeFromManyThreads() throws {
        let harness = try LoopHarness()
        defer { harness.stop() }
        // Touched only inside posted closures, i.e. on the loop thread.
        let seen = UncheckedBox([[Int]](repeating: [], count: 8))
        let offLoop = UncheckedBox(0)
        let loop = harness.loop, bridge = harness.bridge
        let threadsDone = DispatchSemaphore(value: 0)
        for thread in 0..<8 {
            Thread.detachNewThread {
                for index in 0..<1000 {
                    bridge.post {
                        if !loop.isLoopThread { offLoop.value += 1 }
                        seen.value[thread].append(index)
                    }
                }
                threadsDone.signal()
            }
        }
        for _ in 0..<8 {
            #expect(threadsDone.wait(timeout: .now() + 10) == .success)
        }
        // FIFO: this runs after every post above.
        let result = try harness.onLoop { (seen.value, offLoop.value) }
        #expect(result.1 == 0)
        for perThread in result.0 {
            #expect(perThread == Array(0..<1000))
        }
    }

    @Test("a post after close is refused")
    func postAfterClose() throws {
        let harness = try LoopHarness()
        let bridge = harness.bridge
        harness.stop()
        #expect(bridge.post {} == false)
    }

    @Test("one-shot and repeating timers fire on the loop thread and stop when cancelled")
    func timers() throws {
        let harness = try LoopHarness()
        defer { harness.stop() }
        let loop = harness.loop
        let oneShot = Counter(), repeating = Counter()
        let timers = try harness.onLoop { () -> [LoopTimer] in
            let once = LoopTimer(loop: loop)
            once.schedule(after: .milliseconds(20)) { if loop.isLoopThread { oneShot.increment() } }
            let again = LoopTimer(loop: loop)
            again.schedule(after: .milliseconds(10), repeating: .milliseconds(10)) { repeating.increment() }
            return [once, again]
        }
        #expect(eventually { repeating.value >= 5 })
        try harness.onLoop { timers[1].cancel() }
        let stoppedAt = repeating.value
        usleep(100_000)
        #expect(repeating.value == stoppedAt)
        #expect(oneShot.value == 1)
        #expect(try harness.onLoop { timers[0].isScheduled } == false)
        try harness.onLoop { timers.forEach { $0.close() } }
    }

    @Test("runBlocking runs work off the loop and the completion on it")
    func runBlocking() throws {
        let harness = try LoopHarness()
        defer { harness.stop() }
        let loop = harness.loop
        let outcome = UncheckedBox<(workOnLoop: Bool, completionOnLoop: Bool, value: Int)?>(nil)
        let done = DispatchSemaphore(value: 0)
        harness.bridge.post {
            loop.runBlocking({ () -> (Bool, Int) in
                usleep(20_000)
                return (loop.isLoopThread, (1...100).reduce(0, +))
            }, then: { result in
                outcome.value = (result.0, loop.isLoopThread, result.1)
                done.signal()
            })
        }
        #expect(done.wait(timeout: .now() + 5) == .success)
        #expect(outcome.value?.workOnLoop == false)
        #expect(outcome.value?.completionOnLoop == true)
        #expect(outcome.value?.value == 5050)
    }

    @Test("a watched signal is delivered as a loop callback")
    func signalWatcher() throws {
        let received = UncheckedBox<Int32>(0)
        let delivered = DispatchSemaphore(value: 0)
        let watcher = UncheckedBox<SignalWatcher?>(nil)
        let harness = try LoopHarness { loop, _ in
            watcher.value = try SignalWatcher(loop: loop, signal: SIGUSR2) { signal in
                received.value = signal
                delivered.signal()
            }
        }
        defer { harness.stop() }
        kill(getpid(), SIGUSR2)
        #expect(delivered.wait(timeout: .now() + 5) == .success)
        #expect(received.value == SIGUSR2)
        try harness.onLoop { watcher.value?.close() }
    }

    @Test("a directory watcher reports a new file once when debounced")
    func directoryWatcher() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("watch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let names = UncheckedBox<[String?]>([])
        let path = directory.path
        let harness = try LoopHarness { loop, _ in
            _ = try DirectoryWatcher(loop: loop, path: path, debounce: .milliseconds(100)) { name in
                names.value.append(name)
            }
        }
        defer { harness.stop() }
        for round in 0..<3 {
            try Data("round \(round)".utf8).write(to: directory.appendingPathComponent("adapter.bin"))
        }
        #expect(try eventually { try harness.onLoop { names.value.count } >= 1 })
        usleep(250_000)
        #expect(try harness.onLoop { names.value } == ["adapter.bin"])
    }

    @Test("watching a directory that does not exist throws")
    func directoryWatcherMissingPath() throws {
        let failure = UncheckedBox<HTTPServerError?>(nil)
        let harness = try LoopHarness { loop, _ in
            do {
                _ = try DirectoryWatcher(loop: loop, path: "/nonexistent/\(UUID().uuidString)") { _ in }
            } catch {
                failure.value = error as? HTTPServerError
            }
        }
        harness.stop()
        #expect(failure.value != nil)
    }
}
