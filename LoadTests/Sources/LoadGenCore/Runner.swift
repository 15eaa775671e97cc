import Foundation
import Synchronization

/// Everything one run needs: where to send, what, how fast and for how long.
public struct RunConfig: Codable, Sendable, Equatable {
    /// Row label in reports.
    public var label: String
    /// Server host (127.0.0.1 unless given explicitly).
    public var host: String
    /// Server port.
    public var port: Int
    /// Closed or open loop.
    public var mode: LoadMode
    /// When to stop issuing requests.
    public var limits: RunLimits
    /// What to send.
    public var workload: WorkloadSpec
    /// Seconds after which a request counts as a timeout.
    public var timeoutSeconds: Double
    /// Open loop: most requests in flight at once; beyond it sends wait (and the wait shows as send lag).
    public var maxInFlight: Int
    /// Whether to reuse connections.
    public var keepAlive: Bool
    /// Adapter swapping during the run, if any.
    public var swap: SwapConfig?

    /// A configuration; see the properties.
    public init(label: String, host: String = "127.0.0.1", port: Int = 8080, mode: LoadMode, limits: RunLimits,
                workload: WorkloadSpec, timeoutSeconds: Double = 120, maxInFlight: Int = 512, keepAlive: Bool = true,
                swap: SwapConfig? = nil) {
        self.label = label
        self.host = host
        self.port = port
        self.mode = mode
        self.limits = limits
        self.workload = workload
        self.timeoutSeconds = timeoutSeconds
        self.maxInFlight = maxInFlight
        self.keepAlive = keepAlive
        self.swap = swap
    }
}

/// A flag that asks a running load to stop issuing requests (set from a signal handler, for instance).
public final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)

    /// An unset flag.
    public init() {}

    /// Asks the run to stop.
    public func stop() { flag.store(true, ordering: .relaxed) }

    /// Whether a stop was asked for.
    public var isStopped: Bool { flag.load(ordering: .relaxed) }
}

/// Runs one load: starts the clients (closed loop) or the arrival schedule (open loop), the
/// swapper and the progress line, waits for every request to finish and builds the report.
public struct LoadRunner: Sendable {
    /// What to run.
    public let config: RunConfig
    /// Expected outputs, when verifying.
    public let expectations: ExpectedOutputs?
    /// Set to stop early.
    public let stop: StopSignal
    /// Whether to print the progress line on stderr.
    public let showProgress: Bool

    /// A runner; see the properties.
    public init(config: RunConfig, expectations: ExpectedOutputs? = nil, stop: StopSignal = StopSignal(), showProgress: Bool = true) {
        self.config = config
        self.expectations = expectations
        self.stop = stop
        self.showProgress = showProgress
    }

    /// Runs the load to completion and returns its report.
    public func run() throws(ConfigError) -> RunReport {
        try config.limits.validate()
        let workload = try Workload(config.workload)
        let client = HTTPClient(host: config.host, port: config.port, keepAlive: config.keepAlive)
        let executor = RequestExecutor(client: client, timeoutSeconds: config.timeoutSeconds)
        let startedAt = Date()
        let start = MonotonicClock.now()
        let recorder = RunRecorder(runStart: start, expectations: expectations)
        // Admin calls get their own client so that they never wait behind the load's connections.
        let swapper = try config.swap.map { swap throws(ConfigError) in
            try Swapper(config: swap, client: HTTPClient(host: config.host, port: config.port, keepAlive: false),
                        runStart: start, timeoutSeconds: config.timeoutSeconds)
        }
        let label = config.label
        let progress = showProgress ? ProgressPrinter { ProgressPrinter.describe(label, recorder.snapshot()) } : nil
        progress?.start()
        swapper?.start()
        let deadline = config.limits.durationSeconds.map { start &+ TimeUnits.nanos(seconds: $0) }
        switch config.mode {
        case .closed(let concurrency):
            guard concurrency >= 1 else { throw .invalidValue(option: "--concurrency", value: "\(concurrency)", reason: "must be ≥ 1") }
            runClosed(concurrency: concurrency, workload: workload, executor: executor, recorder: recorder, deadline: deadline)
        case .open(let rate):
            guard rate > 0, rate.isFinite else { throw .invalidValue(option: "--rate", value: "\(rate)", reason: "must be > 0") }
            runOpen(rate: rate, start: start, workload: workload, executor: executor, recorder: recorder, deadline: deadline)
        }
        let swapEvents = swapper?.stop()
        progress?.stop()
        client.closeIdleConnections()
        return recorder.makeReport(label: config.label, mode: config.mode, limits: config.limits, workload: config.workload,
                                   startedAt: startedAt, swapEvents: swapEvents)
    }

    /// Closed loop: `concurrency` threads, each sending the next request of the shared sequence
    /// as soon as its previous one completes.
    private func runClosed(concurrency: Int, workload: Workload, executor: RequestExecutor, recorder: RunRecorder,
                           deadline: UInt64?) {
        let nextIndex = Mutex(0)
        let limit = config.limits.requests
        let stop = self.stop
        let claim: @Sendable () -> Int? = {
            nextIndex.withLock { next in
                if stop.isStopped { return nil }
                if let limit, next >= limit { return nil }
                if let deadline, MonotonicClock.now() >= deadline { return nil }
                defer { next += 1 }
                return next
            }
        }
        let group = DispatchGroup()
        for client in 0..<concurrency {
            group.enter()
            spawn(name: "client-\(client)") {
                while let index = claim() {
                    let spec = workload.request(at: index)
                    recorder.willSend()
                    recorder.record(executor.execute(spec))
                }
                group.leave()
            }
        }
        group.wait()
    }

    /// Open loop: one dispatcher walks the Poisson schedule and starts a thread per request at
    /// its scheduled time; latency is measured from that time, so waiting counts.
    private func runOpen(rate: Double, start: UInt64, workload: Workload, executor: RequestExecutor, recorder: RunRecorder,
                         deadline: UInt64?) {
        var arrivals = PoissonArrivals(rate: rate, seed: config.workload.seed)
        let slots = DispatchSemaphore(value: max(config.maxInFlight, 1))
        let group = DispatchGroup()
        var index = 0
        while !stop.isStopped, let offset = arrivals.next() {
            if let limit = config.limits.requests, index >= limit { break }
            let scheduled = start &+ offset
            if let deadline, scheduled >= deadline { break }
            // Build the request before sleeping so that prompt synthesis never delays a send.
            let spec = workload.request(at: index)
            index += 1
            while MonotonicClock.now() < scheduled, !stop.isStopped {
                MonotonicClock.sleep(until: min(scheduled, MonotonicClock.now() &+ 100_000_000))
            }
            if stop.isStopped { break }
            // At the in-flight cap the dispatcher waits here; the delay is recorded as send lag.
            slots.wait()
            group.enter()
            recorder.willSend()
            spawn(name: "request-\(spec.index)") {
                recorder.record(executor.execute(spec, scheduledAt: scheduled))
                slots.signal()
                group.leave()
            }
        }
        group.wait()
    }

    /// Starts an OS thread; 1 MiB of stack is plenty for parsing and JSON decoding.
    private func spawn(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }
}
