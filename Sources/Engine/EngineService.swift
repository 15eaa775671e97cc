import Adapters
import Foundation
import Llama
import Logging

/// The engine thread: owns the generator (model, KV cache, running sequences) and runs steps
/// while there is work, admitting waiting requests between steps.
///
/// The server's event loop talks to it through two doors: `submit` / `cancel` put commands
/// in a mutex-guarded inbox and wake the thread; results leave through `deliver`, called on the
/// engine thread once per step with that step's events (the server forwards them to its loop).
public final class EngineService: @unchecked Sendable {
    // Shared with the loop thread: everything below `condition` is guarded by it.
    private let condition = NSCondition()
    private var waiting = AdmissionQueue()
    private var cancellations: [RequestID] = []
    private var commands: [@Sendable (Generator) -> Void] = []
    private var draining = false
    private var stopped = false
    private var state = EngineSnapshot()

    // Engine-thread only.
    private let generator: Generator
    private let configuration: EngineConfiguration
    private let deliver: @Sendable ([EngineEvent]) -> Void
    private let logger: Logger
    private var running: [SequenceID: RunningRequest] = [:]
    private var sequenceOf: [RequestID: SequenceID] = [:]
    private var thread: Thread?

    /// What the engine thread keeps per admitted request.
    private struct RunningRequest {
        let request: EngineRequest
        var generated = 0
    }

    /// An engine over `generator`; `deliver` receives each step's events on the engine thread.
    public init(generator: Generator, configuration: EngineConfiguration, logger: Logger,
                deliver: @escaping @Sendable ([EngineEvent]) -> Void) {
        self.generator = generator
        self.configuration = configuration
        self.logger = logger
        self.deliver = deliver
    }

    /// Starts the engine thread.
    public func start() {
        let thread = Thread { [self] in runLoop() }
        thread.name = "switchboard-engine"
        thread.stackSize = 8 << 20
        self.thread = thread
        thread.start()
    }

    /// Queues requests for admission, all or none. Thread-safe.
    public func submit(_ requests: [EngineRequest]) throws(EngineError) {
        condition.lock()
        defer { condition.unlock() }
        if draining || stopped { throw .draining }
        guard waiting.count + requests.count <= configuration.maxWaiting else {
            // A rough wait: the queue drains about one running batch per average request time.
            throw .queueFull(retryAfterSeconds: max(1, min(30, waiting.count / max(1, configuration.maxRunning))))
        }
        for request in requests { waiting.append(request) }
        state.waiting = waiting.count
        condition.signal()
    }

    /// Cancels requests (client gone); their sequences end and free their blocks at the next step.
    public func cancel(_ ids: [RequestID]) {
        condition.lock()
        cancellations.append(contentsOf: ids)
        condition.signal()
        condition.unlock()
    }

    /// Runs `command` on the engine thread between two steps (e.g. installing an adapter).
    public func perform(_ command: @escaping @Sendable (Generator) -> Void) {
        condition.lock()
        commands.append(command)
        condition.signal()
        condition.unlock()
    }

    /// Refuses new requests from now on; running and waiting ones still finish.
    public func drain() {
        condition.lock()
        draining = true
        condition.signal()
        condition.unlock()
    }

    /// Whether nothing is running or waiting.
    public var isIdle: Bool { snapshot.running == 0 && snapshot.waiting == 0 }

    /// Stops the engine thread after the current step; running requests are cancelled.
    public func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    /// The state after the last step. Thread-safe.
    public var snapshot: EngineSnapshot {
        condition.lock()
        defer { condition.unlock() }
        return state
    }

    // MARK: - Engine thread

    private func runLoop() {
        while true {
            condition.lock()
            while !stopped && cancellations.isEmpty && commands.isEmpty && running.isEmpty
                    && (waiting.isEmpty || !canAdmit(waiting.peek())) {
                condition.wait()
            }
            if stopped {
                let left = waiting.removeAll()
                condition.unlock()
                shutDown(waitingLeft: left)
                return
            }
            let cancelled = cancellations, pendingCommands = commands
            cancellations.removeAll()
            commands.removeAll()
            condition.unlock()

            for command in pendingCommands { command(generator) }
            var events = cancelNow(cancelled)
            events += admit()
            if !running.isEmpty { events += step() }
            publishState()
            if !events.isEmpty { deliver(events) }
        }
    }

    /// Whether `request` may join the running batch now: a free slot, and room in the KV pool
    /// for its prompt and promised output next to every running sequence's promise (see
    /// `EngineConfiguration.outputReserveTokens`).
    /// (Called with the lock held; reads only the generator's counters, which the engine
    /// thread — the caller — owns.)
    private func canAdmit(_ request: EngineRequest?) -> Bool {
        guard let request, running.count < configuration.maxRunning else { return false }
        let cache = generator.cache
        let prompt = request.prompt.count + (request.adapter?.adapter.virtualTokenCount ?? 0)
        // A prompt bigger than the whole pool is admitted alone and fails with a clear error.
        if cache.blocksNeeded(tokens: prompt + 1) > cache.blockCount { return running.isEmpty }
        let reserve = configuration.outputReserveTokens
        let promised = cache.blocksNeeded(tokens: prompt + max(1, min(request.parameters.maxTokens, reserve)))
        // A promise bigger than the pool is capped at the pool: such a request runs alone.
        let others = generator.promisedBlocks(outputReserve: reserve)
        return min(promised, cache.blockCount) + others <= cache.blockCount
    }

    private func admit() -> [EngineEvent] {
        var events: [EngineEvent] = []
        while true {
            condition.lock()
            let next = canAdmit(waiting.peek()) ? waiting.popNext() : nil
            state.waiting = waiting.count
            condition.unlock()
            guard let request = next else { return events }
            do {
                let sequence = try generator.add(prompt: request.prompt, parameters: request.parameters, adapter: request.adapter)
                running[sequence] = RunningRequest(request: request)
                sequenceOf[request.id] = sequence
                events.append(.admitted(request.id))
            } catch {
                events.append(.failed(request.id, message: "\(error)"))
            }
        }
    }

    private func cancelNow(_ ids: [RequestID]) -> [EngineEvent] {
        var events: [EngineEvent] = []
        for id in ids {
            if let sequence = sequenceOf[id], let entry = running[sequence] {
                _ = generator.cancel(sequence)
                events.append(finish(sequence, entry, reason: .cancelled, text: ""))
                continue
            }
            condition.lock()
            let removed = waiting.remove(id)
            condition.unlock()
            if let removed {
                events.append(.finished(id, reason: .cancelled, text: "",
                                        usage: TokenUsage(promptTokens: removed.prompt.count, completionTokens: 0)))
            }
        }
        return events
    }

    private func step() -> [EngineEvent] {
        let generated: [GenerationEvent]
        do {
            generated = try generator.step()
        } catch {
            // The generator throws only for programming errors; fail everyone rather than spin.
            logger.error("engine step failed: \(error)")
            return running.keys.map { sequence in
                _ = generator.cancel(sequence)
                return EngineEvent.failed(running.removeValue(forKey: sequence)!.request.id, message: "internal error")
            }
        }
        var events: [EngineEvent] = []
        events.reserveCapacity(generated.count)
        var tokensByTenant: [String: Int] = [:]
        for event in generated {
            switch event {
            case let .token(sequence, token, text, logprobs):
                guard var entry = running[sequence] else { continue }
                entry.generated += 1
                running[sequence] = entry
                tokensByTenant[entry.request.tenant, default: 0] += 1
                events.append(.token(entry.request.id, token: token, text: text, logprobs: logprobs))
            case let .finished(sequence, reason, text):
                guard let entry = running[sequence] else { continue }
                events.append(finish(sequence, entry, reason: reason, text: text))
            case let .failed(sequence, error):
                guard let entry = running.removeValue(forKey: sequence) else { continue }
                sequenceOf[entry.request.id] = nil
                events.append(.failed(entry.request.id, message: "\(error)"))
            }
        }
        condition.lock()
        for (tenant, tokens) in tokensByTenant { waiting.charge(tenant: tenant, tokens: tokens) }
        state.steps += 1
        state.generatedTokens += tokensByTenant.values.reduce(0, +)
        condition.unlock()
        return events
    }

    private func finish(_ sequence: SequenceID, _ entry: RunningRequest, reason: FinishReason, text: String) -> EngineEvent {
        running[sequence] = nil
        sequenceOf[entry.request.id] = nil
        return .finished(entry.request.id, reason: reason, text: text,
                         usage: TokenUsage(promptTokens: entry.request.prompt.count, completionTokens: entry.generated))
    }

    private func publishState() {
        condition.lock()
        state.running = running.count
        state.waiting = waiting.count
        state.kvBlocksUsed = generator.cache.usedBlockCount
        state.kvBlocksFree = generator.cache.freeBlockCount
        state.lastStepTokens = generator.lastStepTokens
        state.preemptions = generator.preemptionCount
        condition.unlock()
    }

    private func shutDown(waitingLeft: [EngineRequest]) {
        var events: [EngineEvent] = waitingLeft.map {
            .finished($0.id, reason: .cancelled, text: "", usage: TokenUsage(promptTokens: $0.prompt.count, completionTokens: 0))
        }
        for (sequence, entry) in running {
            _ = generator.cancel(sequence)
            events.append(finish(sequence, entry, reason: .cancelled, text: ""))
        }
        publishState()
        if !events.isEmpty { deliver(events) }
    }
}
