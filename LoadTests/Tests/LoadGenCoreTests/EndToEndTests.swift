import Foundation
import LoadGenCore
import Testing

/// The client, runner, verifier and swapper against the in-test fake server (a test double,
/// not Switchboard): real sockets, canned OpenAI-style answers.
@Suite("End to end against the fake server", .serialized)
struct EndToEndTests {
    func config(_ server: FakeOpenAIServer, mode: LoadMode = .closed(concurrency: 4), limits: RunLimits = RunLimits(requests: 40),
                names: [String] = ["base"], stream: Bool = true, api: APIKind = .completions, maxTokens: Int = 5) -> RunConfig {
        RunConfig(label: "test", port: server.port, mode: mode, limits: limits,
                  workload: WorkloadSpec(modelNames: names, popularity: .zipf(alpha: 1), promptTokens: .fixed(8),
                                         maxTokens: .fixed(maxTokens), api: api, stream: stream, distinctPrompts: 3, seed: 3),
                  timeoutSeconds: 10)
    }

    func run(_ config: RunConfig, expectations: ExpectedOutputs? = nil) throws -> RunReport {
        try LoadRunner(config: config, expectations: expectations, showProgress: false).run()
    }

    @Test("closed loop, streamed completions: every request succeeds and every token is timed")
    func closedLoopStreaming() throws {
        let server = try FakeOpenAIServer(.init(acceptAnyModel: true))
        defer { server.stop() }
        let report = try run(config(server, names: ["a", "b", "c", "d"]))
        #expect(report.sent == 40 && report.succeeded == 40 && report.errors == 0 && report.isClean)
        #expect(report.completionTokens == 200)
        #expect(report.ttft?.count == 40)
        #expect(report.itl?.count == 40 * 4)  // 5 tokens, 4 gaps each
        #expect(report.e2e!.p99 >= report.ttft!.p99)
        #expect(report.samples.map(\.index) == Array(0..<40))
        #expect(report.requestsPerSecond > 0 && report.tokensPerSecond > 0)
        #expect(report.sendLag == nil)
    }

    @Test("chat without streaming: tokens come from usage, and there is no TTFT")
    func chatNonStreaming() throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        let report = try run(config(server, stream: false, api: .chat, maxTokens: 7))
        #expect(report.succeeded == 40 && report.completionTokens == 280)
        #expect(report.ttft == nil && report.itl == nil)
    }

    @Test("streamed chat: the role-only first delta is not counted as a token")
    func chatStreaming() throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        let report = try run(config(server, limits: RunLimits(requests: 8), api: .chat, maxTokens: 3))
        #expect(report.succeeded == 8 && report.completionTokens == 24 && report.itl?.count == 16)
    }

    @Test("open loop: latency counts from the scheduled time, so a backlog shows up as latency and send lag")
    func openLoopQueueing() throws {
        // Each request takes about 5 × 10 ms; one slot in flight at 100 req/s builds a queue.
        let server = try FakeOpenAIServer(.init(tokenDelay: 0.01))
        defer { server.stop() }
        var slow = config(server, mode: .open(rate: 100), limits: RunLimits(requests: 10))
        slow.maxInFlight = 1
        let report = try run(slow)
        #expect(report.succeeded == 10)
        let lag = try #require(report.sendLag)
        #expect(lag.max > 200)  // the 10th request waited for ~9 earlier ones of ≥ 40 ms
        #expect(report.e2e!.max >= lag.max + 40)
    }

    @Test("open loop at a modest rate keeps to the schedule")
    func openLoopOnTime() throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        let report = try run(config(server, mode: .open(rate: 40), limits: RunLimits(requests: 40, durationSeconds: 30)))
        #expect(report.sent == 40 && report.succeeded == 40)
        // 40 arrivals at 40/s span about a second.
        #expect(report.wallSeconds > 0.4 && report.wallSeconds < 3)
        #expect(report.sendLag!.p50 < 20)
    }

    @Test("a duration limit stops issuing on time")
    func durationLimit() throws {
        let server = try FakeOpenAIServer(.init(tokenDelay: 0.002))
        defer { server.stop() }
        let started = Date()
        let report = try run(config(server, mode: .closed(concurrency: 2), limits: RunLimits(durationSeconds: 0.5)))
        #expect(report.sent > 2)
        #expect(Date().timeIntervalSince(started) < 3)
    }

    @Test("verify: expected outputs computed one by one, then wrong tokens under load are caught", arguments: [true, false])
    func verifyCatchesMismatches(tokenIDs: Bool) throws {
        let clean = try FakeOpenAIServer(.init(supportsTokenIDs: tokenIDs))
        var config = config(clean, names: ["base"])
        config.workload.returnTokenIDs = true
        let keys = try Workload(config.workload).distinctKeys(requests: 40)
        #expect(keys.count == 3)
        let expected = try Verifier.computeExpectations(
            for: keys, executor: RequestExecutor(client: HTTPClient(host: "127.0.0.1", port: clean.port), timeoutSeconds: 5), stream: true)
        clean.stop()
        #expect(expected.entries.allSatisfy { ($0.tokenIDs != nil) == tokenIDs })

        let good = try FakeOpenAIServer(.init(supportsTokenIDs: tokenIDs))
        config.port = good.port
        let passing = try run(config, expectations: expected)
        good.stop()
        #expect(passing.verify?.checked == 40 && passing.verify?.matched == 40 && passing.isClean)

        let faulty = try FakeOpenAIServer(.init(corruptEvery: 5, supportsTokenIDs: tokenIDs))
        defer { faulty.stop() }
        config.port = faulty.port
        let report = try run(config, expectations: expected)
        let verify = try #require(report.verify)
        #expect(verify.mismatched == 8 && verify.matched == 32 && !report.isClean)
        let mismatch = try #require(verify.mismatches.first)
        #expect(mismatch.comparedBy == (tokenIDs ? "tokenIDs" : "text"))
        #expect(mismatch.expectedText != mismatch.gotText)
        #expect(mismatch.firstDifference == (tokenIDs ? 4 : mismatch.expectedText.commonPrefixCount(with: mismatch.gotText)))
        #expect(mismatch.key.model == "base" && !mismatch.key.prompt.isEmpty)
    }

    @Test("HTTP errors are counted by status, and a run with errors is not clean")
    func httpErrors() throws {
        let server = try FakeOpenAIServer(.init(failEvery: 4))
        defer { server.stop() }
        let report = try run(config(server))
        #expect(report.errors == 10 && report.succeeded == 30)
        #expect(report.errorsByCategory == ["503": 10])
        #expect(report.failures.first?.message.contains("overloaded") == true)
        #expect(!report.isClean)
    }

    @Test("an unknown model is a 404 error (no swap explains it)")
    func unknownModel() throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        let report = try run(config(server, limits: RunLimits(requests: 5), names: ["nope"]))
        #expect(report.errorsByCategory == ["404": 5] && report.unavailableDuringSwap == 0)
    }

    @Test("a server that is not there gives connect errors, quickly")
    func unreachable() throws {
        let server = try FakeOpenAIServer()
        let port = server.port
        server.stop()
        var config = config(server, limits: RunLimits(requests: 6))
        config.port = port
        let report = try run(config)
        #expect(report.errors == 6 && report.errorsByCategory == ["connect": 6])
    }

    @Test("keep-alive reuses connections; --no-keep-alive opens one per request")
    func keepAlive() throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        _ = try run(config(server, mode: .closed(concurrency: 2), limits: RunLimits(requests: 20)))
        #expect(server.acceptedConnections <= 4)
        var fresh = config(server, mode: .closed(concurrency: 2), limits: RunLimits(requests: 20))
        fresh.keepAlive = false
        let before = server.acceptedConnections
        _ = try run(fresh)
        #expect(server.acceptedConnections - before == 20)
    }

    @Test("swaps under load: events recorded, 404s during an unload counted apart, adapters left loaded")
    func swapping() throws {
        let adapters = ["synth-0": "/a/0", "synth-1": "/a/1"]
        let server = try FakeOpenAIServer(.init(adapters: adapters, tokenDelay: 0.001))
        defer { server.stop() }
        var config = config(server, mode: .closed(concurrency: 4), limits: RunLimits(durationSeconds: 1.5), names: ["synth-0", "synth-1"])
        config.swap = SwapConfig(rate: 20, targets: [SwapTarget(name: "synth-0", versions: ["/a/0", "/a/0-v2"]),
                                                     SwapTarget(name: "synth-1", versions: ["/a/1"])],
                                 unloadSeconds: 0.05, seed: 1)
        let report = try run(config)
        let swap = try #require(report.swap)
        #expect(swap.events.count >= 10)
        #expect(swap.failures == 0)
        #expect(Set(swap.events.map(\.kind)) == [.replace, .unload, .reload])
        #expect(report.errors == 0)
        #expect(report.unavailableDuringSwap > 0)
        #expect(report.samples.filter { $0.error == "swap-404" }.count == report.unavailableDuringSwap)
        #expect(swap.overlapping != nil)
        #expect(Set(server.loadedAdapters.keys) == ["synth-0", "synth-1"])
        #expect(server.adminCalls.count == swap.events.count)
        #expect(report.isClean)
    }

    @Test("the server API helpers list models and check health")
    func serverAPI() throws {
        let server = try FakeOpenAIServer(.init(adapters: ["x": "/x"]))
        defer { server.stop() }
        let client = HTTPClient(host: "127.0.0.1", port: server.port)
        #expect(ServerAPI.isHealthy(client))
        #expect(try ServerAPI.modelIDs(client) == ["base", "x"])
    }
}

extension String {
    /// Length of the common prefix in characters.
    func commonPrefixCount(with other: String) -> Int {
        zip(self, other).prefix { $0 == $1 }.count
    }
}
