import ArgumentParser
import LoadGenCore

/// What a sweep varies and how long each run lasts.
struct SweepOptions: ParsableArguments {
    @Option(help: "Comma-separated adapter counts, e.g. 1,8,64,256 (0 = base model only). (default: 0)", transform: intList)
    var adapters: [Int]?

    @Option(help: "Comma-separated closed-loop concurrencies, e.g. 1,8,32,64.", transform: intList)
    var concurrency: [Int]?

    @Option(help: "Comma-separated open-loop rates (req/s) to ramp through, e.g. 1,2,4,8.", transform: doubleList)
    var rates: [Double]?

    @Option(help: "p99 bound in ms for the rate ramp.")
    var p99BoundMs: Double?

    @Option(help: "Which p99 the bound applies to: e2e or ttft.")
    var boundMetric: BoundMetric = .e2e

    @Option(help: "Requests per run. (default: 10 with --quick)")
    var requests: Int?

    @Option(help: "Seconds per run. (default: 20 when --requests is not given)")
    var duration: Double?
}

/// `loadgen sweep`: several runs in sequence, over concurrency, adapter count and/or a rate ramp.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run several loads in sequence: concurrency and adapter-count grids, and an open-loop rate ramp.",
        discussion: """
        For each --adapters count, runs every --concurrency (closed loop), then every --rates value \
        (open loop) in increasing order. With --p99-bound-ms the ramp stops at the first rate whose \
        p99 (--bound-metric) exceeds the bound or that has errors, and reports the last rate within \
        it as the max sustainable rate.
        """)

    @OptionGroup(title: "Sweep") var sweep: SweepOptions
    @OptionGroup(title: "Server") var server: ServerOptions
    @OptionGroup(title: "Workload") var workload: WorkloadOptions
    @OptionGroup(title: "Verification") var verify: VerifyOptions
    @OptionGroup(title: "Adapter swapping") var swap: SwapOptions
    @OptionGroup(title: "Output") var output: OutputOptions

    /// Refuses a sweep with nothing to vary.
    func validate() throws {
        if (sweep.concurrency ?? []).isEmpty, (sweep.rates ?? []).isEmpty { throw ValidationError("give --concurrency and/or --rates") }
        if (sweep.concurrency ?? []).contains(0) { throw ValidationError("concurrencies must be ≥ 1") }
    }

    /// Runs the plan, printing one line per finished run, then reports and exits.
    func run() throws {
        let session = Session(server: server, workload: workload, verify: verify, swap: swap, output: output)
        var limits = RunLimits(requests: sweep.requests, durationSeconds: sweep.duration)
        if sweep.requests == nil, sweep.duration == nil { limits = output.quick ? RunLimits(requests: 10) : RunLimits(durationSeconds: 20) }
        let base = try session.baseModel()
        let counts = sweep.adapters ?? [0]
        let template = try session.template(label: "", mode: .closed(concurrency: 1), limits: limits,
                                            names: session.names(base: base, adapters: counts[0]), base: base)
        let plan = SweepPlan(adapterCounts: counts, concurrencies: sweep.concurrency ?? [], rates: sweep.rates ?? [],
                             p99BoundMs: sweep.p99BoundMs, boundMetric: sweep.boundMetric)
        session.installInterruptHandler()
        // Expected outputs depend only on the model names (and limits), so compute them once per name set.
        var cache: [[String]: ExpectedOutputs] = [:]
        let outcome = try Sweep.run(plan, template: template, namesFor: { session.names(base: base, adapters: $0) }, stop: session.stop,
            runOne: { config throws(ConfigError) in
                var expectations = cache[config.workload.modelNames]
                if session.verify.isEnabled, expectations == nil {
                    do { expectations = try session.expectations(for: config) } catch {
                        throw .inconsistent("reference outputs failed: \(error)")
                    }
                    cache[config.workload.modelNames] = expectations
                }
                return try session.runOne(config, expectations: expectations)
            },
            onRun: { report in
                // The full table goes to stdout at the end; meanwhile each finished run is one line on stderr.
                let row = TableReport.row(report)
                ProgressPrinter.write("[sweep] finished \(row[0]): \(row[3]) req/s, \(row[4]) tok/s, E2E p99 \(row[10]) ms, errors \(row[11])\n")
            })
        try session.finish(outcome.runs, verdicts: outcome.verdicts)
    }
}
