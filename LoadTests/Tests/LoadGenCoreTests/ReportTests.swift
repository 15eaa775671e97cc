import Foundation
import LoadGenCore
import Testing

/// The JSON, HTML and text forms of a report.
@Suite("Reports")
struct ReportTests {
    /// A run with every optional part filled, as a sweep with swaps and verification would produce.
    static func sampleRun(label: String = "a=8 c=4", mode: LoadMode = .closed(concurrency: 4), p99: Double = 120) -> RunReport {
        let latency = LatencySummary(count: 10, mean: 50, p50: 45, p90: 90, p99: p99, max: 130)
        let key = VerifyKey(model: "synth-1", api: .completions, prompt: "the <cat> & \"dog\"", maxTokens: 4)
        var verify = VerifySummary()
        verify.checked = 9
        verify.matched = 8
        verify.mismatched = 1
        verify.mismatches = [Mismatch(requestIndex: 3, key: key, comparedBy: "tokenIDs", firstDifference: 2, expectedText: " a b c",
                                      gotText: " a b d", expectedTokenIDs: [1, 2, 3], gotTokenIDs: [1, 2, 4])]
        let events = [SwapEvent(kind: .unload, adapter: "synth-1", path: nil, start: 0.5, end: 0.51, status: 200, ok: true),
                      SwapEvent(kind: .reload, adapter: "synth-1", path: "/adapters/synth-1", start: 0.7, end: 0.75, status: 200, ok: true),
                      SwapEvent(kind: .replace, adapter: "synth-2", path: "/adapters/v2", start: 1.2, end: 1.3, status: 500, ok: false,
                                message: "see https://example.com/help")]
        return RunReport(
            label: label, mode: mode, limits: RunLimits(requests: 10, durationSeconds: 5),
            workload: WorkloadSpec(modelNames: (0..<8).map { "synth-\($0)" }, popularity: .zipf(alpha: 1.2),
                                   promptTokens: .logNormal(median: 100, sigma: 0.5), maxTokens: .uniform(min: 8, max: 16), distinctPrompts: 4),
            startedAt: "2026-01-01T00:00:00Z", wallSeconds: 2.5, sent: 10, succeeded: 9, errors: 1, errorsByCategory: ["503": 1],
            unavailableDuringSwap: 1, requestsPerSecond: 3.6, tokensPerSecond: 40.25, completionTokens: 100,
            e2e: latency, ttft: latency, itl: nil, sendLag: latency, verify: verify,
            swap: SwapSummary(events: events, failures: 1, overlapping: latency, nonOverlapping: nil),
            failures: [FailureRecord(index: 5, model: "synth-3", start: 1, end: 1.1, category: "503", message: "HTTP 503 overloaded: <busy>")],
            timeline: [TimelinePoint(second: 0, completed: 4, errors: 0, tokens: 40, e2eP50: 40, e2eP99: 60, ttftP99: 10),
                       TimelinePoint(second: 1, completed: 5, errors: 1, tokens: 60, e2eP50: 45, e2eP99: 120, ttftP99: nil)],
            samples: [RequestSample(index: 0, model: "synth-0", start: 0, end: 0.1, ttftMs: 5, tokens: 10, status: 200),
                      RequestSample(index: 5, model: "synth-3", start: 1, end: 1.1, tokens: 0, status: 503, error: "503")])
    }

    static func sampleReport() -> Report {
        Report(generatedAt: "2026-01-01T00:00:10Z", command: "loadgen sweep --concurrency 4,8",
               runs: [sampleRun(), sampleRun(label: "a=8 c=8", mode: .closed(concurrency: 8), p99: 300),
                      sampleRun(label: "a=8 r=2", mode: .open(rate: 2)), sampleRun(label: "a=8 r=4", mode: .open(rate: 4), p99: 900)],
               sweeps: ["adapters=8": SweepSummary(boundMetric: "e2e", p99BoundMs: 500, maxSustainableRate: 2, firstFailingRate: 4)])
    }

    @Test("the JSON report decodes back to the same value")
    func jsonRoundTrip() throws {
        let report = Self.sampleReport()
        let data = try ReportWriter.encodeJSON(report)
        #expect(try ReportWriter.decodeJSON(data) == report)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""mode" : {"#) && text.contains(#""lognormal:100:0.5""#) && text.contains(#""zipf:1.2""#))
    }

    @Test("the HTML report is self-contained: charts inline, no http:// or https:// anywhere")
    func htmlSelfContained() {
        let html = HTMLReport.render(Self.sampleReport())
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(!html.lowercased().contains("http://"))
        #expect(!html.lowercased().contains("https://"))
        #expect(!html.contains("<script src") && !html.contains("<link"))
        #expect(html.components(separatedBy: "<svg").count - 1 >= 3 + 4 * 3)
        #expect(html.contains("Max sustainable rate"))
        // User text is escaped.
        #expect(html.contains("the &lt;cat&gt; &amp; &quot;dog&quot;"))
        #expect(!html.contains("<busy>"))
        // Swap events are drawn as vertical lines with their description.
        #expect(html.contains("unload synth-1 at 0.50 s"))
    }

    @Test("writing a report creates the three files")
    func writesFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loadgen-test-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let paths = try ReportWriter.write(Self.sampleReport(), to: directory + "/nested")
        for path in [paths.json, paths.html, paths.text] { #expect(FileManager.default.fileExists(atPath: path)) }
    }

    @Test("the text table has a row per run and notes for errors, mismatches, swaps and the sweep verdict")
    func table() {
        let text = TableReport.render(Self.sampleReport())
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("run") && lines[0].contains("TTFT p99") && lines[0].contains("errors"))
        #expect(lines.filter { $0.hasPrefix("a=8 ") }.count == 4)
        #expect(text.contains("errors by status/kind: 503: 1"))
        #expect(text.contains("MISMATCH request 3 model synth-1"))
        #expect(text.contains("404s during unload: 1"))
        #expect(text.contains("max sustainable rate (adapters=8, p99 e2e ≤ 500 ms): 2.00 req/s"))
    }

    @Test("chart ticks are round numbers that cover the data")
    func ticks() {
        #expect(SVGChart.niceTicks(min: 0, max: 97) == [0, 20, 40, 60, 80, 100])
        #expect(SVGChart.niceTicks(min: 1, max: 64).last! >= 64)
        #expect(SVGChart.niceTicks(min: 0, max: 0) == [0, 1])
    }

    @Test("HTML escaping covers markup characters and URL schemes")
    func escaping() {
        #expect(HTMLText.escape("<a href='x'>&</a>") == "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;")
        #expect(!HTMLText.escape("see http://example.com").contains("://"))
    }
}
