import ArgumentParser
import Foundation
import LoadGenCore

/// A failure before the load starts that is not a usage mistake (the server is unreachable, say): exit 1, no usage text.
struct SetupError: Error, CustomStringConvertible {
    /// What went wrong.
    let description: String

    init(_ description: String) { self.description = description }
}

/// The steps shared by `run` and `sweep`: resolve names, build the template configuration,
/// compute expected outputs, run, write the reports and choose the exit status.
struct Session {
    let server: ServerOptions
    let workload: WorkloadOptions
    let verify: VerifyOptions
    let swap: SwapOptions
    let output: OutputOptions
    let stop = StopSignal()

    /// The client used for the preliminary calls (model list, reference outputs).
    var client: HTTPClient { HTTPClient(host: server.host, port: server.port, keepAlive: !server.noKeepAlive) }

    var timeoutSeconds: Double { server.timeout ?? (output.quick ? 30 : 120) }

    /// The base model name: `--model`, else the first model the server lists.
    ///
    /// Either way the server must answer first: a closed loop against a closed port would
    /// otherwise fail millions of requests a minute and bury the one useful message.
    func baseModel() throws -> String {
        if let model = workload.model {
            do {
                _ = try client.fetch(HTTPRequest(method: "GET", path: "/health"), timeoutSeconds: 10)
            } catch {
                throw SetupError("cannot reach \(server.host):\(server.port) (\(error)); is the server running?")
            }
            return model
        }
        do {
            guard let first = try ServerAPI.modelIDs(client).first else {
                throw SetupError("GET /v1/models listed no models; pass --model")
            }
            return first
        } catch let error as HTTPClientError {
            throw SetupError("cannot ask \(server.host):\(server.port) for its models (\(error)); is the server running? Or pass --model")
        }
    }

    /// The model names for `adapters` adapters (0 = base model only).
    func names(base: String, adapters: Int) -> [String] {
        ModelNames.make(base: base, adapterCount: adapters, pattern: workload.adapterPattern,
                        explicit: workload.adapterNames ?? [], includeBase: workload.includeBase)
    }

    /// The workload for the given names, with --quick and --verify defaults applied.
    func workloadSpec(names: [String], base: String) throws -> WorkloadSpec {
        let popularity = try Popularity(parsing: workload.popularity)
        let prompt = try LengthDistribution(parsing: workload.promptTokens ?? (output.quick ? "16" : "128"), option: "--prompt-tokens")
        let maxTokens = try LengthDistribution(parsing: workload.maxTokens ?? (output.quick ? "8" : "64"), option: "--max-tokens")
        return WorkloadSpec(
            modelNames: names, popularity: popularity, promptTokens: prompt, maxTokens: maxTokens, api: workload.api,
            stream: workload.stream, temperature: verify.isEnabled ? 0 : workload.temperature,
            distinctPrompts: workload.distinctPrompts ?? (verify.isEnabled ? 4 : 0), seed: workload.seed,
            returnTokenIDs: verify.isEnabled, ignoreEOS: workload.ignoreEOS, baseModel: base)
    }

    /// The template every run starts from.
    func template(label: String, mode: LoadMode, limits: RunLimits, names: [String], base: String) throws -> RunConfig {
        let swapConfig = try swap.config(seed: workload.seed)
        if verify.isEnabled, let swapConfig, swapConfig.targets.contains(where: { Set($0.versions).count > 1 }) {
            // A replace with another version legitimately changes that adapter's outputs.
            throw ValidationError("--verify with --swap needs a single path per adapter: other versions change the expected outputs")
        }
        return RunConfig(label: label, host: server.host, port: server.port, mode: mode, limits: limits,
                  workload: try workloadSpec(names: names, base: base), timeoutSeconds: timeoutSeconds, maxInFlight: server.maxInFlight,
                  keepAlive: !server.noKeepAlive, swap: swapConfig)
    }

    /// Expected outputs for a run, when verifying: read from the file, or computed one request at a time.
    func expectations(for config: RunConfig) throws -> ExpectedOutputs? {
        guard verify.isEnabled else { return nil }
        if let path = verify.verifyFile { return try ExpectedOutputs.load(from: path) }
        let keys = try Workload(config.workload).distinctKeys(requests: config.limits.requests)
        let executor = RequestExecutor(client: client, timeoutSeconds: timeoutSeconds)
        let expected = try Verifier.computeExpectations(for: keys, executor: executor, stream: config.workload.stream) { done, total in
            if !output.noProgress, done == 0 || done == total || done % 10 == 0 {
                ProgressPrinter.write("[verify] reference outputs \(done)/\(total)\n")
            }
        }
        if let path = verify.verifySave { try expected.save(to: path) }
        return expected
    }

    /// Runs one configuration with its expectations.
    func runOne(_ config: RunConfig, expectations: ExpectedOutputs?) throws(ConfigError) -> RunReport {
        try LoadRunner(config: config, expectations: expectations, stop: stop, showProgress: !output.noProgress).run()
    }

    /// Makes Ctrl-C stop issuing requests (in-flight ones finish and the reports are written); a second Ctrl-C kills.
    func installInterruptHandler() {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        let stop = self.stop
        source.setEventHandler {
            ProgressPrinter.write("\ninterrupted: finishing in-flight requests (Ctrl-C again to abort)\n")
            stop.stop()
            signal(SIGINT, SIG_DFL)
        }
        source.resume()
        Session.interruptSource = source
    }

    /// Keeps the signal source alive for the life of the process.
    nonisolated(unsafe) static var interruptSource: (any DispatchSourceSignal)?

    /// Prints the table, writes the files and exits with the status the runs deserve.
    func finish(_ runs: [RunReport], verdicts: [String: SweepSummary]) throws -> Never {
        let report = Report(generatedAt: ISO8601DateFormatter().string(from: Date()),
                            command: CommandLine.arguments.joined(separator: " "), runs: runs, sweeps: verdicts)
        print(TableReport.render(report), terminator: "")
        let paths = try ReportWriter.write(report, to: output.out ?? Self.defaultOutputDirectory())
        ProgressPrinter.write("reports: \(paths.text)\n         \(paths.json)\n         \(paths.html)\n")
        let mismatches = runs.contains { ($0.verify?.mismatched ?? 0) > 0 }
        let failed = runs.contains { $0.errors > 0 || ($0.swap?.failures ?? 0) > 0 }
        if mismatches { ProgressPrinter.write("FAILED: verification mismatches\n"); Foundation.exit(2) }
        if failed && !output.allowErrors { ProgressPrinter.write("FAILED: requests or swaps failed (--allow-errors to accept)\n"); Foundation.exit(1) }
        Foundation.exit(0)
    }

    /// `LoadTests/results/<timestamp>` next to this package's sources, else `./loadgen-results/<timestamp>`.
    static func defaultOutputDirectory() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let stamp = formatter.string(from: Date())
        // #filePath is LoadTests/Sources/loadgen/Session.swift at build time.
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        if FileManager.default.fileExists(atPath: package.appendingPathComponent("Package.swift").path) {
            return package.appendingPathComponent("results/\(stamp)").path
        }
        return FileManager.default.currentDirectoryPath + "/loadgen-results/\(stamp)"
    }
}
