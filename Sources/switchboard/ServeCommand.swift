import Adapters
import ArgumentParser
import Engine
import Foundation
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
    @Option(help: "Directory of PEFT adapter folders, each served under its folder name.")
    var adapters: String?
    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"
    @Option(help: "Port (0 picks a free one).")
    var port = 8080
    @Option(name: .long, help: "Most sequences in the running batch.")
    var maxRunning = 64
    @Option(name: .long, help: "Most tokens per engine step; long prompts are prefilled in chunks of this size.")
    var maxStepTokens = 512
    @Option(name: .long, help: "Memory for the KV cache, in MiB.")
    var kvCacheMb = 512
    @Option(name: .long, help: "Most requests waiting for admission (more get 429).")
    var maxQueue = 1024
    @Option(name: .long, help: "Largest request body, in KiB (more gets 413).")
    var maxBodyKb = 1024
    @Option(name: .long, help: "Most open client connections (more get 503).")
    var maxConnections = 1024
    @Option(name: .long, help: "Largest adapter rank accepted.")
    var maxAdapterRank = 256
    @Option(name: .long, help: "Seconds in-flight requests get to finish after SIGINT/SIGTERM.")
    var drainSeconds = 30
    @Option(name: .long, help: "Log level (trace, debug, info, notice, warning, error).")
    var logLevel = "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard maxRunning > 0, maxStepTokens > 0, kvCacheMb > 0, maxQueue >= 0, maxBodyKb > 0, maxConnections > 0 else {
            throw ValidationError("limits must be positive")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        guard ["127.0.0.1", "localhost", "::1"].contains(host) else {
            throw ValidationError("without a tenants file the server accepts unauthenticated requests, so it binds to loopback only (127.0.0.1 or ::1)")
        }
    }

    func run() throws {
        var logger = makeLogger("switchboard")
        logger.logLevel = Logger.Level(rawValue: logLevel)!
        let loadStart = now()
        let bundle = try ModelBundle.load(path: try resolveModelPath(model))
        let config = bundle.model.config
        logger.info("loaded \(config.name): \(config.layerCount) layers, hidden \(config.hiddenSize), context \(config.contextLength), in \(String(format: "%.2f", now() - loadStart)) s")

        let registry = AdapterRegistry()
        let limits = AdapterLimits(maxRank: maxAdapterRank)
        if let adapters { loadAdapterDirectory(adapters, bundle: bundle, registry: registry, limits: limits, logger: logger) }

        var options = ServerOptions()
        options.http = HTTPServerConfiguration(host: host, port: port, maxBodyBytes: maxBodyKb * 1024, maxConnections: maxConnections)
        options.engine = EngineConfiguration(maxRunning: maxRunning, maxStepTokens: maxStepTokens, maxWaiting: maxQueue)
        options.kvCacheMegabytes = kvCacheMb
        options.drainDeadline = .seconds(drainSeconds)
        let server = try SwitchboardServer(bundle: bundle, registry: registry, options: options, logger: logger)
        try server.run(handleSignals: true) { boundPort in
            let names = registry.all.map { "\($0.adapter.name) (\($0.adapter.kind.rawValue))" }
            logger.info("switchboard listening on http://\(host):\(boundPort) — model '\(server.service.baseModelID)', \(names.count) adapter(s)\(names.isEmpty ? "" : ": " + names.joined(separator: ", ")); unauthenticated (loopback only)")
            // A line on stdout that scripts can wait for.
            FileHandle.standardOutput.write(Data("listening on http://\(host):\(boundPort)\n".utf8))
        }
        logger.info("stopped")
    }

    /// Loads every adapter folder of `directory` (a folder with adapter_config.json); a folder
    /// that does not load is logged with its reason and skipped.
    func loadAdapterDirectory(_ directory: String, bundle: ModelBundle, registry: AdapterRegistry, limits: AdapterLimits,
                              logger: Logger) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names.sorted() where FileManager.default.fileExists(atPath: "\(directory)/\(name)/\(AdapterLoader.configFile)") {
            let start = now()
            do {
                let adapter = try bundle.loadAdapter(directory: "\(directory)/\(name)", name: name, version: registry.makeVersion(),
                                                     limits: limits)
                registry.install(adapter, loadSeconds: now() - start)
            } catch {
                logger.warning("adapter \(name) not loaded: \(error)")
            }
        }
    }
}
