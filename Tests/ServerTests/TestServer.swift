import Adapters
import Engine
import Foundation
import HTTPServer
import Logging
import OpenAIAPI
import TestSupport

/// The default model, loaded once for every server test.
let sharedBundle: ModelBundle? = Fixtures.hasSmolLM2 ? try? ModelBundle.load(path: Fixtures.smolLM2Path) : nil

/// Synthetic adapters of every kind for the default model, written once.
let sharedAdapterDirectory: String? = {
    guard let bundle = sharedBundle else { return nil }
    let directory = NSTemporaryDirectory() + "switchboard-server-tests-\(getpid())"
    let specs: [(String, SyntheticAdapterSpec)] = [
        ("lora-a", SyntheticAdapterSpec(kind: .lora, rank: 8, targets: [.q, .v], seed: 1)),
        ("lora-b", SyntheticAdapterSpec(kind: .lora, rank: 16, targets: ProjectionModule.allCases, seed: 2)),
        ("dora-a", SyntheticAdapterSpec(kind: .dora, rank: 4, targets: [.q, .k, .v], seed: 3)),
        ("ia3-a", SyntheticAdapterSpec(kind: .ia3, targets: [.k, .v, .down], seed: 4)),
        ("prefix-a", SyntheticAdapterSpec(kind: .prefixTuning, virtualTokens: 8, seed: 5)),
        ("prompt-a", SyntheticAdapterSpec(kind: .promptTuning, virtualTokens: 6, seed: 6)),
    ]
    for (name, spec) in specs {
        try? AdapterSynthesizer.write(spec, base: bundle.adapterShape, weights: bundle.model, baseName: nil,
                                      to: directory + "/" + name)
    }
    return directory
}()

/// Names of the shared adapters.
let sharedAdapterNames = ["lora-a", "lora-b", "dora-a", "ia3-a", "prefix-a", "prompt-a"]

/// A server on an ephemeral port over the shared model, stopped when released.
final class TestServer: @unchecked Sendable {  // immutable after init; each call opens its own connection
    let server: SwitchboardServer
    let port: Int
    let registry = AdapterRegistry()

    init(configure: (inout ServerOptions) -> Void = { _ in }) throws {
        guard let bundle = sharedBundle, let adapters = sharedAdapterDirectory else {
            throw ClientError(description: "the default model is missing: run `make model`")
        }
        for name in sharedAdapterNames {
            let adapter = try bundle.loadAdapter(directory: adapters + "/" + name, name: name, version: registry.makeVersion())
            registry.install(adapter, loadSeconds: 0)
        }
        var options = ServerOptions()
        options.http.port = 0
        options.kvCacheMegabytes = 128
        options.drainDeadline = .seconds(5)
        configure(&options)
        var logger = Logger(label: "test-server")
        logger.logLevel = .warning
        server = try SwitchboardServer(bundle: bundle, registry: registry, options: options, logger: logger)
        port = try server.runInBackground()
    }

    deinit {
        server.shutdown()
        server.waitUntilStopped()
    }

    /// One request on a new connection.
    func call(_ method: String, _ path: String, body: String? = nil) throws -> RawResponse {
        try RawHTTPClient(port: port).call(method, path, body: body)
    }

    /// POST with a JSON object body.
    func post(_ path: String, _ object: [String: Any]) throws -> RawResponse {
        let data = try JSONSerialization.data(withJSONObject: object)
        return try call("POST", path, body: String(decoding: data, as: UTF8.self))
    }

    /// Waits until the engine has nothing running or waiting (or `seconds` pass).
    func waitUntilIdle(seconds: Double = 20) -> EngineSnapshot {
        let deadline = Date().addingTimeInterval(seconds)
        var snapshot = server.engine.snapshot
        while (snapshot.running > 0 || snapshot.waiting > 0 || snapshot.kvBlocksUsed > 0) && Date() < deadline {
            usleep(20_000)
            snapshot = server.engine.snapshot
        }
        return snapshot
    }
}

/// The base model's id in /v1/models.
let baseModelID = "SmolLM2-135M-Instruct"
