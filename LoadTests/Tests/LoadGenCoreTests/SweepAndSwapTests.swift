import Foundation
import LoadGenCore
import Testing

/// Sweep ramp logic (with a stand-in for the real run) and the swap bookkeeping.
@Suite("Sweeps and swap bookkeeping")
struct SweepAndSwapTests {
    /// A run report whose p99 grows with the offered rate: 100 ms per req/s.
    func fakeRun(_ config: RunConfig, errorsAbove: Double = .infinity) -> RunReport {
        var run = ReportTests.sampleRun(label: config.label, mode: config.mode, p99: config.mode.rateOrConcurrency * 100)
        run.workload = config.workload
        run.errors = config.mode.rateOrConcurrency > errorsAbove ? 1 : 0
        return run
    }

    func template() -> RunConfig {
        RunConfig(label: "", mode: .closed(concurrency: 1), limits: RunLimits(requests: 1), workload: WorkloadSpec(modelNames: ["base"]))
    }

    @Test("the rate ramp stops at the first rate over the bound and reports the last one within it")
    func rampStops() throws {
        var labels: [String] = []
        let outcome = try Sweep.run(SweepPlan(rates: [5, 1, 3, 2, 4], p99BoundMs: 350), template: template(), namesFor: { _ in [] },
                                    stop: StopSignal(), runOne: { fakeRun($0) }, onRun: { labels.append($0.label) })
        #expect(labels == ["r=1.00", "r=2.00", "r=3.00", "r=4.00"])
        #expect(outcome.verdicts["models"] == SweepSummary(boundMetric: "e2e", p99BoundMs: 350, maxSustainableRate: 3, firstFailingRate: 4))
    }

    @Test("a rate with errors fails the ramp even within the latency bound")
    func rampErrors() throws {
        let outcome = try Sweep.run(SweepPlan(rates: [1, 2, 3], p99BoundMs: 10_000), template: template(), namesFor: { _ in [] },
                                    stop: StopSignal(), runOne: { fakeRun($0, errorsAbove: 1) })
        #expect(outcome.verdicts["models"]?.maxSustainableRate == 1)
        #expect(outcome.verdicts["models"]?.firstFailingRate == 2)
    }

    @Test("grids run every concurrency for every adapter count, with the names for that count")
    func grid() throws {
        let outcome = try Sweep.run(SweepPlan(adapterCounts: [1, 8], concurrencies: [1, 4]), template: template(),
                                    namesFor: { n in (0..<n).map { "synth-\($0)" } }, stop: StopSignal(), runOne: { fakeRun($0) })
        #expect(outcome.runs.map(\.label) == ["a=1 c=1", "a=1 c=4", "a=8 c=1", "a=8 c=4"])
        #expect(outcome.runs.map(\.workload.modelNames.count) == [1, 1, 8, 8])
        #expect(outcome.verdicts.isEmpty)
    }

    @Test("a stop signal ends the sweep early")
    func stopped() throws {
        let stop = StopSignal()
        let outcome = try Sweep.run(SweepPlan(concurrencies: [1, 2, 3]), template: template(), namesFor: { _ in [] }, stop: stop,
                                    runOne: { config throws(ConfigError) in stop.stop(); return fakeRun(config) })
        #expect(outcome.runs.count == 1)
    }

    @Test("a sweep stopped early gives no rate verdict for adapter counts whose ramp never ran")
    func stoppedBeforeSomeRamps() throws {
        let stop = StopSignal()
        var runs = 0
        let outcome = try Sweep.run(SweepPlan(adapterCounts: [1, 8], rates: [1, 2], p99BoundMs: 10_000), template: template(),
                                    namesFor: { n in (0..<n).map { "synth-\($0)" } }, stop: stop,
                                    runOne: { config throws(ConfigError) in
                                        runs += 1
                                        if runs == 2 { stop.stop() }
                                        return fakeRun(config)
                                    })
        #expect(outcome.verdicts["adapters=1"]?.maxSustainableRate == 2)
        #expect(outcome.verdicts["adapters=8"] == nil)
    }

    @Test("swap windows pair each unload with its reload; replaces stand alone")
    func windows() {
        let events = [
            SwapEvent(kind: .unload, adapter: "a", path: nil, start: 1, end: 1.1, status: 200, ok: true),
            SwapEvent(kind: .replace, adapter: "b", path: "/b2", start: 1.5, end: 1.6, status: 200, ok: true),
            SwapEvent(kind: .reload, adapter: "a", path: "/a", start: 2, end: 2.2, status: 200, ok: true),
            SwapEvent(kind: .unload, adapter: "c", path: nil, start: 3, end: 3.1, status: 200, ok: true),
        ]
        let windows = SwapWindow.windows(from: events)
        #expect(windows.contains(SwapWindow(adapter: "a", start: 1, end: 2.2, unloaded: true)))
        #expect(windows.contains(SwapWindow(adapter: "b", start: 1.5, end: 1.6, unloaded: false)))
        #expect(windows.contains(SwapWindow(adapter: "c", start: 3, end: .infinity, unloaded: true)))
        let a = windows.first { $0.adapter == "a" }!
        #expect(a.overlaps(start: 0.5, end: 1.0) && a.overlaps(start: 2.1, end: 5) && !a.overlaps(start: 2.3, end: 3))
    }

    @Test("swap targets come from NAME=PATH[,PATH] or from a directory of adapters (with optional versions)")
    func targets() throws {
        #expect(try SwapTargets.parse("x=/p/1,/p/2") == SwapTarget(name: "x", versions: ["/p/1", "/p/2"]))
        #expect(throws: ConfigError.self) { try SwapTargets.parse("x") }
        #expect(throws: ConfigError.self) { try SwapTargets.parse("x=") }

        let root = FileManager.default.temporaryDirectory.appendingPathComponent("swap-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        for dir in ["synth-0", "synth-1/v1", "synth-1/v2", ".hidden"] {
            try FileManager.default.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true)
        }
        _ = FileManager.default.createFile(atPath: root + "/synth-0/adapter_config.json", contents: Data("{}".utf8))
        #expect(try SwapTargets.fromDirectory(root) == [
            SwapTarget(name: "synth-0", versions: [root + "/synth-0"]),
            SwapTarget(name: "synth-1", versions: [root + "/synth-1/v1", root + "/synth-1/v2"]),
        ])
    }
}

extension LoadMode {
    /// The numeric parameter of either mode.
    var rateOrConcurrency: Double {
        switch self {
        case .closed(let c): return Double(c)
        case .open(let r): return r
        }
    }
}
