/// The self-contained HTML report: inline CSS and inline SVG only, so it opens offline and
/// references nothing outside itself.
public enum HTMLReport {
    /// Renders the whole report page.
    public static func render(_ report: Report) -> String {
        var html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Switchboard load report</title>"
        html += "<style>\(style)</style></head><body>"
        html += "<h1>Switchboard load report</h1>"
        html += "<p class=\"meta\">Generated \(HTMLText.escape(report.generatedAt)) by <code>\(HTMLText.escape(report.command))</code></p>"
        html += "<h2>Summary</h2>" + summaryTable(report)
        html += "<p class=\"note\">Latencies in ms. TTFT = time to first token, ITL = inter-token latency (per gap between "
        html += "streamed chunks), E2E = end to end. In open loop every latency counts from the <em>scheduled</em> send time, "
        html += "so queueing in the generator or the server is included. req/s and tok/s count successful requests only.</p>"
        for (adapters, sweep) in report.sweeps.sorted(by: { $0.key < $1.key }) {
            let verdict = sweep.maxSustainableRate.map { "\(TableReport.format($0)) req/s" } ?? "none of the rates tried"
            html += "<p class=\"verdict\">Max sustainable rate (\(HTMLText.escape(adapters)), p99 \(sweep.boundMetric) ≤ "
            html += "\(TableReport.format(sweep.p99BoundMs)) ms): <strong>\(verdict)</strong></p>"
        }
        html += loadCharts(report.runs, bound: report.sweeps.values.first)
        for run in report.runs { html += runSection(run) }
        return html + "</body></html>\n"
    }

    private static let style = """
    body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
    table{border-collapse:collapse;font-size:13px;margin:8px 0}
    th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
    th:first-child,td:first-child{text-align:left}
    th{background:#f2f2f2}
    .meta,.note{color:#555;font-size:13px}
    .bad{color:#b00;font-weight:bold}
    .chart{display:block;margin:12px 0;background:#fff}
    section{border-top:2px solid #ddd;margin-top:24px}
    pre{white-space:pre-wrap;background:#f7f7f7;padding:6px;font-size:12px}
    """

    private static func summaryTable(_ report: Report) -> String {
        table(headers: TableReport.headers, rows: report.runs.map(TableReport.row))
    }

    private static func table(headers: [String], rows: [[String]]) -> String {
        var html = "<table><tr>" + headers.map { "<th>\(HTMLText.escape($0))</th>" }.joined() + "</tr>"
        for row in rows { html += "<tr>" + row.map { "<td>\(HTMLText.escape($0))</td>" }.joined() + "</tr>" }
        return html + "</table>"
    }

    /// Throughput and p99 latency against offered load, one line per adapter count, for closed and open runs separately.
    private static func loadCharts(_ runs: [RunReport], bound: SweepSummary?) -> String {
        var html = ""
        for (isOpen, axis) in [(false, "concurrency (clients)"), (true, "offered rate (req/s)")] {
            let selected = runs.filter { if case .open = $0.mode { return isOpen } else { return !isOpen } }
            guard selected.count > 1 else { continue }
            let groups = Dictionary(grouping: selected) { $0.workload.adapterCount }.sorted { $0.key < $1.key }
            func series(_ value: (RunReport) -> Double?, dashed: Bool = false, suffix: String = "") -> [ChartSeries] {
                groups.enumerated().map { i, group in
                    let points = group.value.sorted { $0.offeredLoad < $1.offeredLoad }
                        .compactMap { run in value(run).map { (x: run.offeredLoad, y: $0) } }
                    return ChartSeries(name: "\(group.key) adapters\(suffix)", color: SVGChart.palette[i % SVGChart.palette.count],
                                       points: points, dashed: dashed)
                }
            }
            html += "<h2>Against \(axis)</h2>"
            html += SVGChart.lineChart(title: "Throughput", xLabel: axis, yLabel: "req/s", series: series { $0.requestsPerSecond })
            html += SVGChart.lineChart(title: "Token throughput", xLabel: axis, yLabel: "tokens/s", series: series { $0.tokensPerSecond })
            var latency = series({ $0.e2e?.p99 }, suffix: " E2E") + series({ $0.ttft?.p99 }, dashed: true, suffix: " TTFT")
            if isOpen, let bound, let low = selected.map(\.offeredLoad).min(), let high = selected.map(\.offeredLoad).max() {
                latency.append(ChartSeries(name: "p99 \(bound.boundMetric) bound", color: "#888",
                                           points: [(low, bound.p99BoundMs), (high, bound.p99BoundMs)], dashed: true))
            }
            html += SVGChart.lineChart(title: "p99 latency (solid E2E, dashed TTFT)", xLabel: axis, yLabel: "ms", series: latency)
        }
        return html
    }

    private static func runSection(_ run: RunReport) -> String {
        var html = "<section><h2>Run \(HTMLText.escape(run.label))</h2>"
        html += "<p class=\"meta\">\(HTMLText.escape(run.mode.description)), \(run.workload.adapterCount) adapters, "
        html += "\(run.workload.modelNames.count) model names "
        html += "(\(HTMLText.escape(run.workload.popularity.description))), \(run.workload.api.rawValue), "
        html += "\(run.workload.stream ? "streaming" : "not streaming"), prompt \(HTMLText.escape(run.workload.promptTokens.description)) "
        html += "tokens, max_tokens \(HTMLText.escape(run.workload.maxTokens.description))"
        html += "\(run.workload.ignoreEOS ? " (ignore_eos)" : ""), seed \(run.workload.seed); "
        html += "\(run.sent) sent, \(run.succeeded) succeeded in \(TableReport.format(run.wallSeconds)) s</p>"
        let latencyRows: [(String, LatencySummary?)] = [("E2E", run.e2e), ("TTFT", run.ttft), ("ITL", run.itl), ("send lag", run.sendLag)]
        html += table(headers: ["metric (ms)", "n", "mean", "p50", "p90", "p99", "max"], rows: latencyRows.compactMap { name, s in
            s.map { [name, "\($0.count)", TableReport.format($0.mean), TableReport.format($0.p50), TableReport.format($0.p90),
                     TableReport.format($0.p99), TableReport.format($0.max)] }
        })
        let markers = (run.swap?.events ?? []).map { event in
            ChartMarker(x: event.start, color: event.ok ? (event.kind == .replace ? "#9467bd" : "#ff7f0e") : "#d62728",
                        label: "\(event.kind.rawValue) \(event.adapter) at \(TableReport.format(event.start)) s"
                            + (event.ok ? "" : " FAILED \(event.message ?? "")"))
        }
        let timeline = run.timeline
        func points(_ value: (TimelinePoint) -> Double?) -> [(x: Double, y: Double)] {
            timeline.compactMap { p in value(p).map { (x: Double(p.second) + 0.5, y: $0) } }
        }
        let swapNote = markers.isEmpty ? "" : " — vertical lines: swaps (purple replace, orange unload/reload, red failed)"
        html += SVGChart.lineChart(title: "Latency over time\(swapNote)", xLabel: "seconds since start (by completion)", yLabel: "ms",
                                   series: [ChartSeries(name: "E2E p50", color: SVGChart.palette[0], points: points(\.e2eP50), dashed: true),
                                            ChartSeries(name: "E2E p99", color: SVGChart.palette[0], points: points(\.e2eP99)),
                                            ChartSeries(name: "TTFT p99", color: SVGChart.palette[2], points: points(\.ttftP99))],
                                   markers: markers)
        var throughput = [ChartSeries(name: "requests/s", color: SVGChart.palette[0], points: points { Double($0.completed) }),
                          ChartSeries(name: "errors/s", color: SVGChart.palette[1], points: points { Double($0.errors) })]
        if run.swap != nil {
            throughput.append(ChartSeries(name: "404 while unloaded/s", color: SVGChart.palette[3], points: points { Double($0.unavailable) }, dashed: true))
        }
        html += SVGChart.lineChart(title: "Throughput over time (by completion)", xLabel: "seconds since start", yLabel: "per second",
                                   series: throughput, markers: markers)
        html += SVGChart.lineChart(title: "Tokens over time", xLabel: "seconds since start", yLabel: "tokens/s",
                                   series: [ChartSeries(name: "tokens/s", color: SVGChart.palette[3], points: points { Double($0.tokens) })],
                                   markers: markers)
        html += details(run)
        return html + "</section>"
    }

    private static func details(_ run: RunReport) -> String {
        var html = ""
        if run.errors > 0 {
            html += "<h3 class=\"bad\">Errors: \(run.errors)</h3>"
            html += table(headers: ["status / kind", "count"], rows: run.errorsByCategory.sorted { $0.key < $1.key }.map { [$0.key, "\($0.value)"] })
            html += table(headers: ["request", "model", "at (s)", "error"], rows: run.failures.prefix(20).map {
                ["\($0.index)", $0.model, TableReport.format($0.start), $0.message]
            })
        }
        if run.unavailableDuringSwap > 0 {
            html += "<p>\(run.unavailableDuringSwap) requests got 404 for an adapter the swapper had unloaded at that moment "
            html += "(expected, so not counted as errors).</p>"
        }
        if let verify = run.verify {
            let cls = verify.mismatched > 0 ? " class=\"bad\"" : ""
            html += "<h3\(cls)>Verification: \(verify.matched)/\(verify.checked) matched, \(verify.mismatched) mismatched"
            html += verify.unverified > 0 ? ", \(verify.unverified) without expectation</h3>" : "</h3>"
            for m in verify.mismatches.prefix(20) {
                html += "<pre>request \(m.requestIndex), model \(HTMLText.escape(m.key.model)), max_tokens \(m.key.maxTokens), "
                html += "first difference at \(m.comparedBy) \(m.firstDifference)\nprompt:   \(HTMLText.escape(m.key.prompt))\n"
                html += "expected: \(HTMLText.escape(m.expectedText))\ngot:      \(HTMLText.escape(m.gotText))</pre>"
            }
        }
        if let swap = run.swap {
            html += "<h3>Swaps: \(swap.events.count) admin calls, \(swap.failures) failed</h3>"
            let groups: [(String, LatencySummary?)] = [("overlapping a swap", swap.overlapping), ("not overlapping", swap.nonOverlapping)]
            html += table(headers: ["requests", "n", "E2E p50", "E2E p99", "E2E max"], rows: groups.map { name, s in
                [name, "\(s?.count ?? 0)", s.map { TableReport.format($0.p50) } ?? "-",
                 s.map { TableReport.format($0.p99) } ?? "-", s.map { TableReport.format($0.max) } ?? "-"]
            })
            html += table(headers: ["at (s)", "kind", "adapter", "path", "latency (ms)", "status", "result"], rows: swap.events.map {
                [TableReport.format($0.start), $0.kind.rawValue, $0.adapter, $0.path ?? "", TableReport.format(($0.end - $0.start) * 1000),
                 $0.status.map(String.init) ?? "-", $0.ok ? "ok" : "FAILED \($0.message ?? "")"]
            })
        }
        return html
    }
}
