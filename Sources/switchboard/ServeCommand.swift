import Adapters
import ArgumentParser
import Engine
import Foundation
import Kernels
import HTTPServer
import Llama
import Logging
import OpenAIAPI

/// `switchboard serve`: the OpenAI-compatible HTTP server.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve the model and its adapters over an OpenAI-compatible HTTP API.")

    @Option(help: "A .gguf file or a Hugging Face model directory (default: \(defaultModelPath)).")
    var model: String?
    @Option(help: "Directory of PEFT adapter folders, each served under its folder name; watched for changes.")
    var adapters: String?
    @Option(name: .long, help: "Another folder the admin API may load adapters from (repeatable).")
    var adapterRoot: [String] = []
    @Option(name: .long, help: "Memory for resident adapters, in MiB; least recently used ones are evicted (default: no limit).")
    var adapterMemoryMb: Int?
    @Option(help: "Tenants file (JSON): API keys (SHA-256), their adapters and limits. Required to listen beyond loopback.")
    var tenants: String?
    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"
    @Option(help: "Port (0 picks a free one).")
    var port = 8080
    @Option(name: .long, help: "Most sequences in the running batch.")
    var maxRunning = 64
    @Option(name: .long, help: "Most tokens per engine step; long prompts are prefilled in chunks of this size.")
    var maxStepTokens = 512
    @Option(name: .long, help: "Memory for the KV cache, in MiB.")
    var kvCacheMb = 1024
    @Option(name: .long, help: "KV cache promised to each sequence's output at admission, in tokens (up to its max_tokens).")
    var outputReserveTokens = 512
    @Option(name: .long, help: "Most requests waiting for admission (more get 429).")
    var maxQueue = 1024
    @Option(name: .long, help: "Largest request body, in KiB (more gets 413).")
    var maxBodyKb = 1024
    @Option(name: .long, help: "Most open client connections (more get 503).")
    var maxConnections = 1024
    @Option(name: .long, help: "Largest adapter rank accepted.")
    var maxAdapterRank = 256
    @Option(name: .long, help: "Storage of LoRA/DoRA factors a file holds in f32: f32 (matches PEFT to float rounding), f16 or bf16 (half the memory and the bytes each step reads, rounded). Factors a file holds in f16 or bf16 stay so, exactly.")
    var adapterPrecision: FactorPrecision = .f32
    @Option(name: .long, help: "Seconds in-flight requests get to finish after SIGINT/SIGTERM.")
    var drainSeconds = 30
    @Option(name: .long, help: "Log level (trace, debug, info, notice, warning, error).")
    var logLevel = "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard maxRunning > 0, maxStepTokens > 0, kvCacheMb > 0, outputReserveTokens >= 0, maxQueue >= 0, maxBodyKb > 0,
              maxConnections > 0 else {
            throw ValidationError("limits must be positive")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        guard tenants != nil || ["127.0.0.1", "localhost", "::1"].contains(host) else {
            throw ValidationError("without --tenants the server accepts unauthenticated requests, so it binds to loopback only (127.0.0.1 or ::1)")
        }
        if let adapterMemoryMb, adapterMemoryMb <= 0 { throw ValidationError("--adapter-memory-mb must be positive") }
        for directory in [adapters].compactMap({ $0 }) + adapterRoot {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("no adapter directory at \(directory)")
            }
        }
    }

    func run() throws {
        var logger = makeLogger("switchboard")
        logger.logLevel = Logger.Level(rawValue: logLevel)!
        let loadStart = now()
        let bundle = try ModelBundle.load(path: try resolveModelPath(model))
        let config = bundle.model.config
        logger.info("loaded \(config.name): \(config.layerCount) layers, hidden \(config.hiddenSize), context \(config.contextLength), in \(String(format: "%.2f", now() - loadStart)) s")

        let registry = AdapterRegistry(memoryBudget: adapterMemoryMb.map { $0 * 1_048_576 })
        let tenantsFile = try tenants.map { try TenantsFile.load(path: $0) }
        var options = ServerOptions()
        options.http = HTTPServerConfiguration(host: host, port: port, maxBodyBytes: maxBodyKb * 1024, maxConnections: maxConnections)
        options.engine = EngineConfiguration(maxRunning: maxRunning, maxStepTokens: maxStepTokens, maxWaiting: maxQueue,
                                             outputReserveTokens: outputReserveTokens)
        options.kvCacheMegabytes = kvCacheMb
        options.drainDeadline = .seconds(drainSeconds)
        options.adapterDirectory = adapters
        options.adapterRoots = adapterRoot
        options.adapterLimits = AdapterLimits(maxRank: maxAdapterRank, precision: adapterPrecision)
        options.tenants = tenantsFile
        let server = try SwitchboardServer(bundle: bundle, registry: registry, options: options, logger: logger)
        try server.run(handleSignals: true) { boundPort in
            let names = registry.all.map { "\($0.name) (\($0.kind.rawValue))" }
            let access = tenantsFile.map { "\($0.tenants.count) tenant(s), API keys required" } ?? "unauthenticated (loopback only)"
            logger.info("switchboard listening on http://\(host):\(boundPort) — model '\(server.service.baseModelID)', \(names.count) adapter(s)\(names.isEmpty ? "" : ": " + names.joined(separator: ", ")); \(access)")
            // A line on stdout that scripts can wait for.
            FileHandle.standardOutput.write(Data("listening on http://\(host):\(boundPort)\n".utf8))
        }
        logger.info("stopped")
    }
}
