import Foundation
import Synchronization

/// A live view of a run for the progress line.
public struct ProgressSnapshot: Sendable {
    /// Seconds since the start.
    public var elapsed: Double
    /// Requests sent so far.
    public var sent: Int
    /// Requests finished (successfully or not).
    public var finished: Int
    /// Requests that failed so far.
    public var errors: Int
    /// Successful requests so far.
    public var succeeded: Int
    /// Tokens generated so far.
    public var tokens: Int
    /// Current p99 end-to-end latency in ms.
    public var e2eP99: Double
    /// Mismatches found so far.
    public var mismatches: Int
}

/// Collects request outcomes from many threads and turns them into a `RunReport`.
public final class RunRecorder: Sendable {
    private struct State {
        var e2e = LatencyHistogram(), ttft = LatencyHistogram(), itl = LatencyHistogram(), sendLag = LatencyHistogram()
        var sent = 0, succeeded = 0, failed = 0, tokens = 0
        var samples: [RequestSample] = []
        var failures: [FailureRecord] = []
        var verify = VerifySummary()
        var lastFinish: UInt64 = 0
    }

    /// Monotonic time of the run start; every report time is relative to it.
    public let runStart: UInt64
    private let expectations: ExpectedOutputs?
    private let state = Mutex(State())

    /// A recorder for a run starting at `runStart`, verifying against `expectations` if given.
    public init(runStart: UInt64, expectations: ExpectedOutputs?) {
        self.runStart = runStart
        self.expectations = expectations
    }

    /// Notes that a request is about to be sent.
    public func willSend() {
        state.withLock { $0.sent += 1 }
    }

    /// Records a finished request.
    public func record(_ outcome: RequestOutcome) {
        // Comparison happens outside the lock: it can be a long string compare.
        let expected = expectations.flatMap { $0[outcome.spec.verifyKey] }
        let mismatch = outcome.failure == nil ? expected.flatMap { Verifier.compare(outcome, with: $0) } : nil
        let sample = RequestSample(
            index: outcome.spec.index, model: outcome.spec.model, start: seconds(outcome.scheduledAt),
            end: seconds(outcome.finishedAt), ttftMs: outcome.timeToFirstToken.map(TimeUnits.ms),
            tokens: outcome.completionTokens, status: outcome.status, error: outcome.failure?.category)
        state.withLock { s in
            s.samples.append(sample)
            s.lastFinish = max(s.lastFinish, outcome.finishedAt)
            s.sendLag.record(nanoseconds: outcome.sendLag)
            if let failure = outcome.failure {
                s.failed += 1
                s.failures.append(FailureRecord(index: outcome.spec.index, model: outcome.spec.model, start: sample.start,
                                                end: sample.end, category: failure.category, message: failure.description))
                return
            }
            s.succeeded += 1
            s.tokens += outcome.completionTokens
            s.e2e.record(nanoseconds: outcome.endToEnd)
            if let ttft = outcome.timeToFirstToken { s.ttft.record(nanoseconds: ttft) }
            for gap in outcome.tokenGaps { s.itl.record(nanoseconds: gap) }
            if expectations != nil {
                if expected == nil { s.verify.unverified += 1; return }
                s.verify.checked += 1
                if let mismatch {
                    s.verify.mismatched += 1
                    if s.verify.mismatches.count < Verifier.keptMismatches { s.verify.mismatches.append(mismatch) }
                } else {
                    s.verify.matched += 1
                }
            }
        }
    }

    /// The numbers for the progress line.
    public func snapshot() -> ProgressSnapshot {
        let elapsed = TimeUnits.seconds(MonotonicClock.now() &- runStart)
        return state.withLock { s in
            ProgressSnapshot(elapsed: elapsed, sent: s.sent, finished: s.succeeded + s.failed, errors: s.failed,
                             succeeded: s.succeeded, tokens: s.tokens, e2eP99: s.e2e.percentile(99),
                             mismatches: s.verify.mismatched)
        }
    }

    /// Builds the report once every request has finished.
    ///
    /// A 404 for an adapter inside one of its unload windows is moved from the errors to
    /// `unavailableDuringSwap`: the server was right to refuse it.
    public func makeReport(label: String, mode: LoadMode, limits: RunLimits, workload: WorkloadSpec,
                           startedAt: Date, swapEvents: [SwapEvent]?) -> RunReport {
        var s = state.withLock { $0 }
        let windows = SwapWindow.windows(from: swapEvents ?? [])
        var unavailable = 0
        var explained = Set<Int>()
        for failure in s.failures where failure.category == "404" {
            let isExplained = windows.contains { $0.unloaded && $0.adapter == failure.model && $0.overlaps(start: failure.start, end: failure.end) }
            if isExplained { unavailable += 1; explained.insert(failure.index) }
        }
        s.failures.removeAll { explained.contains($0.index) }
        for i in s.samples.indices where explained.contains(s.samples[i].index) { s.samples[i].error = RequestSample.swapUnavailable }
        s.samples.sort { $0.index < $1.index }
        let wall = max(TimeUnits.seconds(s.lastFinish &- runStart), 1e-9)
        let isOpen: Bool
        if case .open = mode { isOpen = true } else { isOpen = false }
        return RunReport(
            label: label, mode: mode, limits: limits, workload: workload,
            startedAt: ISO8601DateFormatter().string(from: startedAt), wallSeconds: s.lastFinish == 0 ? 0 : wall,
            sent: s.sent, succeeded: s.succeeded, errors: s.failures.count,
            errorsByCategory: Dictionary(s.failures.map { ($0.category, 1) }, uniquingKeysWith: +),
            unavailableDuringSwap: unavailable,
            requestsPerSecond: s.lastFinish == 0 ? 0 : Double(s.succeeded) / wall,
            tokensPerSecond: s.lastFinish == 0 ? 0 : Double(s.tokens) / wall, completionTokens: s.tokens,
            e2e: s.e2e.summary, ttft: s.ttft.summary, itl: s.itl.summary, sendLag: isOpen ? s.sendLag.summary : nil,
            verify: expectations == nil ? nil : s.verify,
            swap: swapEvents.map { Self.swapSummary($0, windows: windows, samples: s.samples) },
            failures: Array(s.failures.prefix(50)), timeline: Timeline.points(from: s.samples), samples: s.samples)
    }

    private static func swapSummary(_ events: [SwapEvent], windows: [SwapWindow], samples: [RequestSample]) -> SwapSummary {
        var during = LatencyHistogram(), outside = LatencyHistogram()
        for sample in samples where sample.error == nil {
            let overlaps = windows.contains { $0.overlaps(start: sample.start, end: sample.end) }
            if overlaps { during.record(milliseconds: sample.e2eMs) } else { outside.record(milliseconds: sample.e2eMs) }
        }
        return SwapSummary(events: events, failures: events.filter { !$0.ok }.count,
                           overlapping: during.summary, nonOverlapping: outside.summary)
    }

    private func seconds(_ time: UInt64) -> Double { TimeUnits.seconds(time &- runStart) }
}

/// Builds per-second aggregates from raw samples.
public enum Timeline {
    /// One point per second from 0 to the last completion, bucketed by completion time.
    public static func points(from samples: [RequestSample]) -> [TimelinePoint] {
        guard let last = samples.map(\.end).max(), last.isFinite else { return [] }
        let buckets = Int(last.rounded(.down)) + 1
        var byBucket = [[RequestSample]](repeating: [], count: buckets)
        for sample in samples { byBucket[min(max(Int(sample.end), 0), buckets - 1)].append(sample) }
        return byBucket.enumerated().map { second, bucket in
            let ok = bucket.filter { $0.error == nil }
            let latencies = ok.map(\.e2eMs).sorted()
            let ttfts = ok.compactMap(\.ttftMs).sorted()
            let unavailable = bucket.filter { $0.error == RequestSample.swapUnavailable }.count
            return TimelinePoint(second: second, completed: ok.count, errors: bucket.count - ok.count - unavailable, unavailable: unavailable,
                                 tokens: ok.reduce(0) { $0 + $1.tokens }, e2eP50: nearestRank(latencies, 50),
                                 e2eP99: nearestRank(latencies, 99), ttftP99: nearestRank(ttfts, 99))
        }
    }

    /// The nearest-rank percentile of sorted values, nil if empty.
    public static func nearestRank(_ sorted: [Double], _ percentile: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((percentile / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}
