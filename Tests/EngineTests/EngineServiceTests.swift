import Engine
import Foundation
import Llama
import Logging
import Testing
import TestSupport

/// Collects the engine's events from its thread.
final class EventLog: @unchecked Sendable {
    private let condition = NSCondition()
    private var events: [EngineEvent] = []

    func append(_ batch: [EngineEvent]) {
        condition.lock()
        events += batch
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until `done` holds for the events so far (or 20 s pass).
    func wait(until done: ([EngineEvent]) -> Bool) -> [EngineEvent] {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(20)
        while !done(events) && condition.wait(until: deadline) {}
        return events
    }
}

func finishedCount(_ events: [EngineEvent]) -> Int {
    events.filter { if case .finished = $0 { return true }; if case .failed = $0 { return true }; return false }.count
}

func tokens(of id: RequestID, in events: [EngineEvent]) -> [Int] {
    events.compactMap { if case let .token(r, token, _, _) = $0, r == id { return token }; return nil }
}

@Suite("The engine thread")
struct EngineServiceTests {
    func makeEngine(blocks: Int = 256, configuration: EngineConfiguration = EngineConfiguration(), log: EventLog) throws -> EngineService {
        let model = try LlamaModel.load(path: Fixtures.path("tiny"))
        let generator = Generator(model: model, cache: PagedKVCache(config: model.config, blockSize: 4, blockCount: blocks),
                                  tokenizer: nil, maxStepTokens: configuration.maxStepTokens)
        return EngineService(generator: generator, configuration: configuration, logger: Logger(label: "test")) { log.append($0) }
    }

    @Test("requests submitted from another thread run together and each gets transformers' greedy tokens")
    func runsSubmittedRequests() throws {
        let log = EventLog()
        let engine = try makeEngine(configuration: EngineConfiguration(maxRunning: 3, maxStepTokens: 8), log: log)
        engine.start()
        defer { engine.stop() }
        let goldens = try Fixtures.json("tiny/goldens.json", as: TinyGoldens.self)
        let requests = (0..<6).map { k in
            EngineRequest(id: RequestID(UInt64(k)), prompt: goldens.greedy[k % goldens.greedy.count].promptIDs,
                          parameters: SamplingParameters(maxTokens: 10), adapter: nil)
        }
        try engine.submit(requests)
        let events = log.wait { finishedCount($0) == requests.count }
        for (k, request) in requests.enumerated() {
            #expect(tokens(of: request.id, in: events) == Array(goldens.greedy[k % goldens.greedy.count].outputIDs.prefix(10)))
        }
        #expect(engine.snapshot.kvBlocksUsed == 0)
        #expect(engine.snapshot.generatedTokens == 60)
    }

    @Test("a cancelled request ends with finish reason cancelled and frees its blocks")
    func cancellation() throws {
        let log = EventLog()
        let engine = try makeEngine(log: log)
        engine.start()
        defer { engine.stop() }
        let id = RequestID(7)
        try engine.submit([EngineRequest(id: id, prompt: [1, 2, 3], parameters: SamplingParameters(maxTokens: 100_000), adapter: nil)])
        _ = log.wait { tokens(of: id, in: $0).count >= 3 }
        engine.cancel([id])
        let events = log.wait { finishedCount($0) == 1 }
        guard case let .finished(_, reason, _, usage)? = events.last else { Issue.record("no finish"); return }
        #expect(reason == .cancelled && usage.promptTokens == 3 && usage.completionTokens >= 3)
        _ = log.wait { _ in engine.snapshot.kvBlocksUsed == 0 }
        #expect(engine.snapshot.kvBlocksUsed == 0)
    }

    @Test("admission promises each sequence room for its output, so a full pool does not preempt; without the promise it does")
    func admissionPromisesOutputRoom() throws {
        let goldens = try Fixtures.json("tiny/goldens.json", as: TinyGoldens.self)
        let golden = goldens.greedy[2]   // 12 prompt tokens + 24 generated = 9 blocks of 4
        func run(outputReserve: Int) throws -> Int {
            let log = EventLog()
            // 27 blocks: three sequences at their peak, or six at admission.
            let engine = try makeEngine(blocks: 27, configuration: EngineConfiguration(
                maxRunning: 6, maxStepTokens: 64, outputReserveTokens: outputReserve), log: log)
            engine.start()
            defer { engine.stop() }
            let requests = (0..<6).map { k in
                EngineRequest(id: RequestID(UInt64(k)), prompt: golden.promptIDs,
                              parameters: SamplingParameters(maxTokens: golden.outputIDs.count), adapter: nil)
            }
            try engine.submit(requests)
            let events = log.wait { finishedCount($0) == requests.count }
            for request in requests { #expect(tokens(of: request.id, in: events) == golden.outputIDs, "\(request.id)") }
            return engine.snapshot.preemptions
        }
        #expect(try run(outputReserve: 512) == 0)
        #expect(try run(outputReserve: 0) > 0, "promising only the prompt overfills the pool")
    }

    @Test("a full waiting queue refuses more with queueFull; draining refuses everything")
    func backpressure() throws {
        let log = EventLog()
        let engine = try makeEngine(configuration: EngineConfiguration(maxRunning: 1, maxWaiting: 2), log: log)
        // Not started: nothing leaves the queue.
        let request = { (k: UInt64) in EngineRequest(id: RequestID(k), prompt: [1], parameters: SamplingParameters(maxTokens: 1), adapter: nil) }
        try engine.submit([request(1), request(2)])
        #expect(throws: EngineError.self) { try engine.submit([request(3)]) }
        engine.drain()
        do { try engine.submit([request(4)]); Issue.record("accepted while draining") } catch { #expect(error == .draining) }
    }
}
