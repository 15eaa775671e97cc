import Foundation

/// The plain-text summary printed on stdout: one row per run, then the details that matter.
public enum TableReport {
    /// The column headers, in order.
    public static let headers = ["run", "load", "adapters", "req/s", "tok/s", "TTFT p50", "TTFT p99",
                                 "ITL p50", "ITL p99", "E2E p50", "E2E p99", "errors"]

    /// Renders the table and the notes below it.
    public static func render(_ report: Report) -> String {
        let rows = report.runs.map(row)
        var text = table(headers: headers, rows: rows)
        text += "(latencies in ms; open-loop latencies are measured from the scheduled send time)\n"
        for run in report.runs { text += notes(for: run) }
        for (adapters, sweep) in report.sweeps.sorted(by: { $0.key < $1.key }) {
            let verdict = sweep.maxSustainableRate.map { "\(format($0)) req/s" } ?? "none of the rates"
            text += "max sustainable rate (\(adapters), p99 \(sweep.boundMetric) ≤ \(format(sweep.p99BoundMs)) ms): \(verdict)"
            if let failing = sweep.firstFailingRate { text += "; first failing rate \(format(failing)) req/s" }
            text += "\n"
        }
        return text
    }

    /// One table row for a run.
    public static func row(_ run: RunReport) -> [String] {
        let load: String
        switch run.mode {
        case .closed(let concurrency): load = "c=\(concurrency)"
        case .open(let rate): load = "\(format(rate))/s"
        }
        return [run.label, load, "\(run.workload.adapterCount)", format(run.requestsPerSecond), format(run.tokensPerSecond),
                ms(run.ttft?.p50), ms(run.ttft?.p99), ms(run.itl?.p50), ms(run.itl?.p99), ms(run.e2e?.p50), ms(run.e2e?.p99),
                "\(run.errors)"]
    }

    /// Lines under the table for anything unusual in a run: errors, verification, swaps, send lag.
    public static func notes(for run: RunReport) -> String {
        var text = ""
        if run.errors > 0 {
            let parts = run.errorsByCategory.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            text += "[\(run.label)] errors by status/kind: \(parts.joined(separator: ", "))\n"
            if let first = run.failures.first { text += "[\(run.label)]   e.g. \(first.model): \(first.message)\n" }
        }
        if let verify = run.verify {
            text += "[\(run.label)] verify: \(verify.checked) checked, \(verify.matched) matched, \(verify.mismatched) mismatched"
            text += verify.unverified > 0 ? ", \(verify.unverified) without expectation\n" : "\n"
            for mismatch in verify.mismatches.prefix(5) {
                text += "[\(run.label)]   MISMATCH request \(mismatch.requestIndex) model \(mismatch.key.model) "
                text += "max_tokens \(mismatch.key.maxTokens), first difference at \(mismatch.comparedBy) \(mismatch.firstDifference)\n"
                text += "[\(run.label)]     prompt:   \(quote(mismatch.key.prompt, around: 0))\n"
                if let expected = mismatch.expectedTokenIDs, let got = mismatch.gotTokenIDs {
                    let from = max(mismatch.firstDifference - 3, 0)
                    text += "[\(run.label)]     expected ids from \(from): \(Array(expected.dropFirst(from).prefix(8)))\n"
                    text += "[\(run.label)]     got ids from \(from):      \(Array(got.dropFirst(from).prefix(8)))\n"
                }
                // For an id mismatch, the text offset is estimated in proportion, just to centre the excerpt.
                let idCount = max(mismatch.expectedTokenIDs?.count ?? 0, 1)
                let offset = mismatch.comparedBy == "text" ? mismatch.firstDifference
                    : mismatch.firstDifference * mismatch.expectedText.count / idCount
                text += "[\(run.label)]     expected: \(quote(mismatch.expectedText, around: offset))\n"
                text += "[\(run.label)]     got:      \(quote(mismatch.gotText, around: offset))\n"
            }
        }
        if let swap = run.swap {
            let kinds = Dictionary(swap.events.map { ($0.kind.rawValue, 1) }, uniquingKeysWith: +)
                .sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            text += "[\(run.label)] swap: \(swap.events.count) admin calls (\(kinds)), \(swap.failures) failed; "
            text += "404s during unload: \(run.unavailableDuringSwap); "
            text += "E2E p99 overlapping swaps \(ms(swap.overlapping?.p99)) ms (n=\(swap.overlapping?.count ?? 0)) "
            text += "vs not \(ms(swap.nonOverlapping?.p99)) ms (n=\(swap.nonOverlapping?.count ?? 0))\n"
            for event in swap.events where !event.ok {
                text += "[\(run.label)]   swap \(event.kind.rawValue) \(event.adapter) at \(format(event.start))s failed: "
                text += "\(event.status.map(String.init) ?? "-") \(event.message ?? "")\n"
            }
        }
        if let lag = run.sendLag, lag.p99 > 10 {
            text += "[\(run.label)] send lag p99 \(ms(lag.p99)) ms: the generator itself fell behind the schedule\n"
        }
        return text
    }

    /// Lays out rows under headers with right-aligned columns (the first column left-aligned).
    public static func table(headers: [String], rows: [[String]]) -> String {
        let all = [headers] + rows
        let widths = headers.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return i == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ") + "\n"
        }
        return line(headers) + line(widths.map { String(repeating: "-", count: $0) }) + rows.map(line).joined()
    }

    /// A number with precision suited to its size.
    public static func format(_ value: Double) -> String {
        if value >= 100 { return String(format: "%.0f", value) }
        if value >= 10 { return String(format: "%.1f", value) }
        return String(format: "%.2f", value)
    }

    private static func ms(_ value: Double?) -> String { value.map(format) ?? "-" }

    /// Quotes up to 160 characters of `text`, starting a little before character `offset` so a difference is visible.
    private static func quote(_ text: String, around offset: Int) -> String {
        let start = max(offset - 40, 0)
        let window = text.dropFirst(start)
        let short = (start > 0 ? "…" : "") + String(window.prefix(160)) + (window.count > 160 ? "…" : "")
        return "\"" + short.replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}
