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
    let registry: AdapterRegistry

    init(preload: Bool = true, registry: AdapterRegistry = AdapterRegistry(), configure: (inout ServerOptions) -> Void = { _ in }) throws {
        guard let bundle = sharedBundle, let adapters = sharedAdapterDirectory else {
            throw ClientError(description: "the default model is missing: run `make model`")
        }
        self.registry = registry
        for name in sharedAdapterNames where preload {
            let adapter = try bundle.loadAdapter(directory: adapters + "/" + name, name: name, version: registry.makeVersion())
            registry.install(adapter, origin: .api, loadSeconds: 0)
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

    /// POST with a JSON object body (and optional extra headers, e.g. Authorization).
    func post(_ path: String, _ object: [String: Any], headers: [String] = []) throws -> RawResponse {
        let data = try JSONSerialization.data(withJSONObject: object)
        let client = try RawHTTPClient(port: port)
        try client.send(RawHTTPClient.request("POST", path, body: String(decoding: data, as: UTF8.self), headers: headers))
        return try client.readResponse()
    }

    /// Any request with extra headers.
    func send(_ method: String, _ path: String, headers: [String]) throws -> RawResponse {
        let client = try RawHTTPClient(port: port)
        try client.send(RawHTTPClient.request(method, path, headers: headers))
        return try client.readResponse()
    }

    /// The generated text of a greedy completion.
    func greedyText(model: String, prompt: String, maxTokens: Int = 12, headers: [String] = []) throws -> String? {
        let response = try post("/v1/completions", ["model": model, "prompt": prompt, "max_tokens": maxTokens, "temperature": 0],
                                headers: headers)
        return (response.json["choices"] as? [[String: Any]])?.first?["text"] as? String
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

/// A fresh scratch folder (removed at exit of the test process is not needed: tmp).
func scratchDirectory(_ label: String) -> String {
    let path = NSTemporaryDirectory() + "switchboard-\(label)-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Copies shared synthetic adapter `name` to `target`.
func copySharedAdapter(_ name: String, to target: String) throws {
    try? FileManager.default.removeItem(atPath: target)
    try FileManager.default.copyItem(atPath: sharedAdapterDirectory! + "/" + name, toPath: target)
}

/// Polls `condition` every 50 ms for up to `seconds`.
func eventually(seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(50_000)
    }
    return try condition()
}
