/// Which p99 a rate ramp holds to its bound.
public enum BoundMetric: String, Codable, Sendable, CaseIterable {
    /// End-to-end latency.
    case e2e
    /// Time to first token (needs streaming).
    case ttft

    /// The p99 of this metric in a run, nil if the run has none.
    public func p99(of run: RunReport) -> Double? {
        switch self {
        case .e2e: return run.e2e?.p99
        case .ttft: return run.ttft?.p99
        }
    }
}

/// A series of runs: for each adapter count, every concurrency (closed loop) and then a rate ramp (open loop).
public struct SweepPlan: Sendable {
    /// Adapter counts to try; nil keeps the template's model names.
    public var adapterCounts: [Int?]
    /// Closed-loop concurrencies, in order.
    public var concurrencies: [Int]
    /// Open-loop rates, tried in increasing order.
    public var rates: [Double]
    /// With a bound, the ramp stops at the first rate whose p99 exceeds it (or that has errors).
    public var p99BoundMs: Double?
    /// The metric the bound applies to.
    public var boundMetric: BoundMetric

    /// A plan; see the properties.
    public init(adapterCounts: [Int?] = [nil], concurrencies: [Int] = [], rates: [Double] = [],
                p99BoundMs: Double? = nil, boundMetric: BoundMetric = .e2e) {
        self.adapterCounts = adapterCounts.isEmpty ? [nil] : adapterCounts
        self.concurrencies = concurrencies
        self.rates = rates.sorted()
        self.p99BoundMs = p99BoundMs
        self.boundMetric = boundMetric
    }
}

/// Runs a `SweepPlan`; the single run itself is injected so that the ramp logic is testable offline.
public enum Sweep {
    /// The result: every run in order, and the ramp verdict per adapter count.
    public struct Outcome: Sendable {
        /// Every run, in the order run.
        public var runs: [RunReport]
        /// Keyed by "adapters=N" (or "models" when the count was not varied).
        public var verdicts: [String: SweepSummary]
    }

    /// Runs every configuration of `plan` derived from `template`.
    ///
    /// - Parameters:
    ///   - namesFor: the model names for an adapter count.
    ///   - runOne: runs one configuration (the real `LoadRunner`, or a stand-in in tests).
    ///   - onRun: called after each run, e.g. to print its row while the sweep goes on.
    public static func run(
        _ plan: SweepPlan, template: RunConfig, namesFor: (Int) -> [String], stop: StopSignal,
        runOne: (RunConfig) throws(ConfigError) -> RunReport, onRun: (RunReport) -> Void = { _ in }
    ) throws(ConfigError) -> Outcome {
        guard !plan.concurrencies.isEmpty || !plan.rates.isEmpty else {
            throw .inconsistent("a sweep needs --concurrency and/or --rates lists")
        }
        var outcome = Outcome(runs: [], verdicts: [:])
        for adapters in plan.adapterCounts {
            var config = template
            if let adapters { config.workload.modelNames = namesFor(adapters) }
            let prefix = adapters.map { "a=\($0) " } ?? ""
            for concurrency in plan.concurrencies where !stop.isStopped {
                config.mode = .closed(concurrency: concurrency)
                config.label = "\(prefix)c=\(concurrency)"
                let report = try runOne(config)
                outcome.runs.append(report)
                onRun(report)
            }
            guard !plan.rates.isEmpty else { continue }
            var verdict = plan.p99BoundMs.map { SweepSummary(boundMetric: plan.boundMetric.rawValue, p99BoundMs: $0) }
            var ratesRun = 0
            for rate in plan.rates where !stop.isStopped {
                ratesRun += 1
                config.mode = .open(rate: rate)
                config.label = "\(prefix)r=\(TableReport.format(rate))"
                let report = try runOne(config)
                outcome.runs.append(report)
                onRun(report)
                guard let bound = plan.p99BoundMs else { continue }
                let p99 = plan.boundMetric.p99(of: report) ?? .infinity
                if p99 <= bound, report.errors == 0 {
                    verdict?.maxSustainableRate = rate
                } else {
                    verdict?.firstFailingRate = rate
                    break  // higher rates would only be worse
                }
            }
            // An interrupted sweep says nothing about adapter counts whose ramp never ran.
            if let verdict, ratesRun > 0 { outcome.verdicts[adapters.map { "adapters=\($0)" } ?? "models"] = verdict }
        }
        return outcome
    }
}
