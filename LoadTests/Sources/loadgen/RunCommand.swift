import ArgumentParser
import LoadGenCore

/// How much load one run offers, and for how long.
struct RunLoadOptions: ParsableArguments {
    @Option(help: "Number of adapter names to spread requests over (0 = base model only).")
    var adapters = 0

    @Option(help: "Closed loop: this many clients sending back to back. (default: 8, 2 with --quick)")
    var concurrency: Int?

    @Option(help: "Open loop: Poisson arrivals at this many requests per second (instead of --concurrency).")
    var rate: Double?

    @Option(help: "Stop issuing after this many requests.")
    var requests: Int?

    @Option(help: "Stop issuing after this many seconds. (default: 30 if --requests is not given; 20 requests with --quick)")
    var duration: Double?
}

/// `loadgen run`: one load, closed or open loop.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run one load (the default subcommand).")

    @OptionGroup(title: "Load") var load: RunLoadOptions
    @OptionGroup(title: "Server") var server: ServerOptions
    @OptionGroup(title: "Workload") var workload: WorkloadOptions
    @OptionGroup(title: "Verification") var verify: VerifyOptions
    @OptionGroup(title: "Adapter swapping") var swap: SwapOptions
    @OptionGroup(title: "Output") var output: OutputOptions

    /// Refuses contradictory options before anything is sent.
    func validate() throws {
        if load.rate != nil, load.concurrency != nil { throw ValidationError("use either --concurrency (closed loop) or --rate (open loop)") }
        if load.adapters < 0 { throw ValidationError("--adapters must be ≥ 0") }
    }

    /// Resolves names, computes expectations if verifying, runs, reports and exits.
    func run() throws {
        let session = Session(server: server, workload: workload, verify: verify, swap: swap, output: output)
        let mode: LoadMode = load.rate.map { .open(rate: $0) } ?? .closed(concurrency: load.concurrency ?? (output.quick ? 2 : 8))
        var limits = RunLimits(requests: load.requests, durationSeconds: load.duration)
        if load.requests == nil, load.duration == nil { limits = output.quick ? RunLimits(requests: 20) : RunLimits(durationSeconds: 30) }
        let base = try session.baseModel()
        let config = try session.template(label: output.label ?? (load.rate == nil ? "closed" : "open"), mode: mode, limits: limits,
                                          names: session.names(base: base, adapters: load.adapters), base: base)
        let expectations = try session.expectations(for: config)
        session.installInterruptHandler()
        let report = try session.runOne(config, expectations: expectations)
        try session.finish([report], verdicts: [:])
    }
}
