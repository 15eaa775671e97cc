import LoadGenCore
import Testing

/// Percentile math over HdrHistogram: exact where the histogram is exact, within 0.1% elsewhere.
@Suite("Latency statistics")
struct StatsTests {
    @Test("values below 2 ms are kept exactly: 1…1000 µs give p50 = 0.5 ms, p90 = 0.9, p99 = 0.99, max = 1")
    func exactSmallValues() {
        var histogram = LatencyHistogram()
        for micros in 1...1000 { histogram.record(nanoseconds: UInt64(micros) * 1000) }
        #expect(histogram.count == 1000)
        #expect(histogram.percentile(50) == 0.5)
        #expect(histogram.percentile(90) == 0.9)
        #expect(histogram.percentile(99) == 0.99)
        #expect(histogram.max == 1.0)
        #expect(abs(histogram.mean - 0.5005) < 1e-9)
    }

    @Test("1…1000 ms give the known percentiles within HdrHistogram's 0.1%")
    func knownPercentiles() {
        var histogram = LatencyHistogram()
        for ms in (1...1000).shuffled() { histogram.record(milliseconds: Double(ms)) }
        for (percentile, expected) in [(50.0, 500.0), (90, 900), (99, 990), (99.9, 999)] {
            let value = histogram.percentile(percentile)
            #expect(abs(value - expected) / expected <= 0.001, "p\(percentile) = \(value)")
            // HdrHistogram reports the top of the bucket: never below the true value.
            #expect(value >= expected)
        }
        #expect(histogram.max == 1000)
    }

    @Test("a skewed distribution: 99 fast requests and one slow one")
    func skewed() {
        var histogram = LatencyHistogram()
        for _ in 0..<99 { histogram.record(milliseconds: 10) }
        histogram.record(milliseconds: 5000)
        #expect(abs(histogram.percentile(50) - 10) <= 0.01)
        #expect(abs(histogram.percentile(99) - 10) <= 0.01)
        #expect(abs(histogram.percentile(99.5) - 5000) <= 5)
        #expect(histogram.max == 5000)
    }

    @Test("merging two histograms equals recording everything in one")
    func merge() {
        var even = LatencyHistogram(), odd = LatencyHistogram(), all = LatencyHistogram()
        for ms in 1...2000 {
            let nanos = UInt64(ms) * 1_234_567
            if ms % 2 == 0 { even.record(nanoseconds: nanos) } else { odd.record(nanoseconds: nanos) }
            all.record(nanoseconds: nanos)
        }
        even.merge(odd)
        #expect(even.count == all.count)
        #expect(even.summary == all.summary)
        for p in [1.0, 25, 50, 75, 90, 99, 99.9] { #expect(even.percentile(p) == all.percentile(p)) }
    }

    @Test("an empty histogram has no summary, so reports show '-' rather than a fake 0")
    func empty() {
        #expect(LatencyHistogram().summary == nil)
        #expect(LatencyHistogram().percentile(99) == 0)
    }

    @Test("values beyond an hour are clamped, not dropped")
    func clamp() {
        var histogram = LatencyHistogram()
        histogram.record(nanoseconds: UInt64.max / 2)
        #expect(histogram.count == 1)
        #expect(histogram.max == 3_600_000)
    }

    @Test("nearest-rank percentiles of per-second buckets")
    func nearestRank() {
        let values = (1...10).map(Double.init)
        #expect(Timeline.nearestRank(values, 50) == 5)
        #expect(Timeline.nearestRank(values, 99) == 10)
        #expect(Timeline.nearestRank(values, 10) == 1)
        #expect(Timeline.nearestRank([], 50) == nil)
    }

    @Test("the timeline buckets samples by completion second")
    func timeline() {
        let samples = [
            RequestSample(index: 0, model: "a", start: 0.1, end: 0.5, tokens: 4, status: 200),
            RequestSample(index: 1, model: "a", start: 0.2, end: 1.7, tokens: 6, status: 200),
            RequestSample(index: 2, model: "a", start: 1.1, end: 1.9, tokens: 0, status: 503, error: "503"),
        ]
        let points = Timeline.points(from: samples)
        #expect(points.count == 2)
        #expect(points[0].completed == 1 && points[0].tokens == 4)
        #expect(points[1].completed == 1 && points[1].errors == 1 && points[1].tokens == 6)
        #expect(abs((points[1].e2eP99 ?? 0) - 1500) < 1e-6)
    }
}
