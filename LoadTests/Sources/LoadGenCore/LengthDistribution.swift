#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A distribution of token counts (prompt length or output length), written as a short spec string.
///
/// Accepted forms: `128` (fixed), `uniform:64:256` (inclusive range), `normal:128:32`
/// (mean, standard deviation) and `lognormal:128:0.5` (median, sigma of the underlying normal).
/// Samples are rounded and clamped to 1…`maximum`, so a wide normal never yields zero or negative lengths.
public enum LengthDistribution: Sendable, Equatable, CustomStringConvertible {
    /// Always the same length.
    case fixed(Int)
    /// Every length in min…max equally likely.
    case uniform(min: Int, max: Int)
    /// A normal distribution, rounded and clamped.
    case normal(mean: Double, standardDeviation: Double)
    /// A lognormal distribution (long right tail, like real prompt lengths), rounded and clamped.
    case logNormal(median: Double, sigma: Double)

    /// The largest length any sample may take.
    public static let maximum = 1_000_000

    /// Parses a spec string such as `uniform:64:256`; `option` names the flag in error messages.
    public init(parsing text: String, option: String = "length") throws(ConfigError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func number(_ index: Int) throws(ConfigError) -> Double {
            guard index < parts.count, let value = Double(parts[index]), value.isFinite else {
                throw ConfigError.invalidValue(option: option, value: text, reason: "expected a number in part \(index + 1)")
            }
            return value
        }
        switch (parts[0], parts.count) {
        case (_, 1):
            guard let n = Int(parts[0]), n >= 1 else {
                throw ConfigError.invalidValue(option: option, value: text, reason: "a fixed length must be an integer ≥ 1")
            }
            self = .fixed(n)
        case ("uniform", 3):
            let lo = Int(try number(1)), hi = Int(try number(2))
            guard lo >= 1, hi >= lo else {
                throw ConfigError.invalidValue(option: option, value: text, reason: "uniform needs 1 ≤ min ≤ max")
            }
            self = .uniform(min: lo, max: hi)
        case ("normal", 3):
            let mean = try number(1), sd = try number(2)
            guard mean >= 1, sd >= 0 else {
                throw ConfigError.invalidValue(option: option, value: text, reason: "normal needs mean ≥ 1 and sd ≥ 0")
            }
            self = .normal(mean: mean, standardDeviation: sd)
        case ("lognormal", 3):
            let median = try number(1), sigma = try number(2)
            guard median >= 1, sigma >= 0 else {
                throw ConfigError.invalidValue(option: option, value: text, reason: "lognormal needs median ≥ 1 and sigma ≥ 0")
            }
            self = .logNormal(median: median, sigma: sigma)
        default:
            throw ConfigError.invalidValue(
                option: option, value: text,
                reason: "use N, uniform:MIN:MAX, normal:MEAN:SD or lognormal:MEDIAN:SIGMA")
        }
    }

    /// The spec string this distribution parses from.
    public var description: String {
        switch self {
        case .fixed(let n): return "\(n)"
        case .uniform(let lo, let hi): return "uniform:\(lo):\(hi)"
        case .normal(let mean, let sd): return "normal:\(Self.format(mean)):\(Self.format(sd))"
        case .logNormal(let median, let sigma): return "lognormal:\(Self.format(median)):\(Self.format(sigma))"
        }
    }

    /// The expected value, used to size things and to describe a run.
    public var mean: Double {
        switch self {
        case .fixed(let n): return Double(n)
        case .uniform(let lo, let hi): return Double(lo + hi) / 2
        case .normal(let mean, _): return mean
        case .logNormal(let median, let sigma): return median * exp(sigma * sigma / 2)
        }
    }

    /// Draws one length.
    public func sample<G: RandomNumberGenerator>(using rng: inout G) -> Int {
        let raw: Double
        switch self {
        case .fixed(let n): return n
        case .uniform(let lo, let hi): return lo + rng.nextIndex(below: hi - lo + 1)
        case .normal(let mean, let sd): raw = mean + sd * rng.nextStandardNormal()
        case .logNormal(let median, let sigma): raw = median * exp(sigma * rng.nextStandardNormal())
        }
        return Swift.min(Swift.max(Int(raw.rounded()), 1), Self.maximum)
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}

extension LengthDistribution: Codable {
    /// Decodes from the spec string.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try LengthDistribution(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }

    /// Encodes as the spec string, so reports stay readable.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
