import Histogram

/// Percentiles of one latency metric, in milliseconds, as they appear in reports.
public struct LatencySummary: Codable, Sendable, Equatable {
    /// Number of recorded values.
    public var count: Int
    /// Mean.
    public var mean: Double
    /// Median.
    public var p50: Double
    /// 90th percentile.
    public var p90: Double
    /// 99th percentile.
    public var p99: Double
    /// Largest value.
    public var max: Double

    /// A summary; see the properties.
    public init(count: Int, mean: Double, p50: Double, p90: Double, p99: Double, max: Double) {
        self.count = count
        self.mean = mean
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.max = max
    }
}

/// A latency histogram (HdrHistogram) that takes nanoseconds and answers in milliseconds.
///
/// Values are kept in microseconds with 3 significant digits: every percentile is exact to
/// within 0.1% of its value (HdrHistogram's guarantee), from 1 µs up to one hour, in a few
/// tens of kilobytes, and two histograms merge exactly by adding counts.
public struct LatencyHistogram: Sendable {
    private var histogram: Histogram<UInt64>
    /// Values above this many microseconds (one hour) are clamped to it.
    public static let highestMicroseconds: UInt64 = 3_600_000_000

    /// An empty histogram.
    public init() {
        histogram = Histogram(lowestDiscernibleValue: 1, highestTrackableValue: Self.highestMicroseconds,
                              numberOfSignificantValueDigits: .three)
    }

    /// Number of values recorded.
    public var count: Int { Int(histogram.totalCount) }

    /// Records a duration given in nanoseconds.
    public mutating func record(nanoseconds: UInt64) {
        histogram.record(Swift.min(nanoseconds / 1_000, Self.highestMicroseconds))
    }

    /// Records a duration given in milliseconds.
    public mutating func record(milliseconds: Double) {
        record(nanoseconds: milliseconds <= 0 ? 0 : UInt64(milliseconds * 1e6))
    }

    /// The value at `percentile` (0–100) in milliseconds; 0 when empty.
    public func percentile(_ percentile: Double) -> Double {
        Double(histogram.valueAtPercentile(percentile)) / 1_000
    }

    /// The largest value recorded (exact, not bucketed), in milliseconds.
    public var max: Double { count == 0 ? 0 : Double(histogram.maxRecorded) / 1_000 }

    /// The mean in milliseconds.
    public var mean: Double { histogram.totalCount == 0 ? 0 : histogram.mean / 1_000 }

    /// Adds every value of `other` to this histogram.
    public mutating func merge(_ other: LatencyHistogram) {
        histogram.add(other.histogram)
    }

    /// The report summary, or nil if nothing was recorded (so reports show "–", not a fake 0).
    public var summary: LatencySummary? {
        guard count > 0 else { return nil }
        return LatencySummary(count: count, mean: mean, p50: percentile(50), p90: percentile(90),
                              p99: percentile(99), max: max)
    }
}
