#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How requests spread over the model names (base model and adapters).
///
/// Written `single`, `uniform` or `zipf:ALPHA` (`zipf` alone means α = 1). Under Zipf the
/// k-th name (1-based, in list order) is chosen with probability ∝ 1/k^α, so the first
/// name is the most popular; α = 0 is uniform.
public enum Popularity: Sendable, Equatable, CustomStringConvertible {
    /// Every request to the first name.
    case single
    /// Every name equally likely.
    case uniform
    /// The k-th name with probability ∝ 1/k^alpha.
    case zipf(alpha: Double)

    /// Parses `single`, `uniform`, `zipf` or `zipf:1.2`.
    public init(parsing text: String) throws(ConfigError) {
        let parts = text.lowercased().split(separator: ":", maxSplits: 1).map(String.init)
        switch parts.first ?? "" {
        case "single" where parts.count == 1: self = .single
        case "uniform" where parts.count == 1: self = .uniform
        case "zipf":
            let alpha = parts.count == 2 ? Double(parts[1]) : 1.0
            guard let alpha, alpha >= 0, alpha.isFinite else {
                throw ConfigError.invalidValue(option: "--popularity", value: text, reason: "zipf exponent must be a number ≥ 0")
            }
            self = .zipf(alpha: alpha)
        default:
            throw ConfigError.invalidValue(option: "--popularity", value: text, reason: "use single, uniform or zipf:ALPHA")
        }
    }

    /// The spec string this value parses from.
    public var description: String {
        switch self {
        case .single: return "single"
        case .uniform: return "uniform"
        case .zipf(let alpha): return "zipf:\(alpha)"
        }
    }

    /// The probability of each of `count` names, in list order; sums to 1.
    public func probabilities(count: Int) -> [Double] {
        precondition(count > 0, "need at least one name")
        let weights: [Double]
        switch self {
        case .single: weights = [1] + Array(repeating: 0, count: count - 1)
        case .uniform: weights = Array(repeating: 1, count: count)
        case .zipf(let alpha): weights = (1...count).map { 1 / pow(Double($0), alpha) }
        }
        let total = weights.reduce(0, +)
        return weights.map { $0 / total }
    }
}

extension Popularity: Codable {
    /// Decodes from the spec string.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try Popularity(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }

    /// Encodes as the spec string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Picks a model name per request according to a `Popularity`, in O(log N) per draw.
public struct ModelChooser: Sendable {
    /// The names drawn from, most popular first under Zipf.
    public let names: [String]
    /// Cumulative probabilities; the last entry is exactly 1.
    private let cumulative: [Double]

    /// A chooser over `names` (non-empty) with the given popularity.
    public init(names: [String], popularity: Popularity) {
        precondition(!names.isEmpty, "need at least one model name")
        self.names = names
        var running = 0.0
        var cumulative = popularity.probabilities(count: names.count).map { p -> Double in running += p; return running }
        // Guard against rounding leaving the last bucket just below 1 (a draw of 0.9999999 must land somewhere).
        cumulative[cumulative.count - 1] = 1
        self.cumulative = cumulative
    }

    /// The index (0-based rank) of the next name drawn.
    public func pickIndex<G: RandomNumberGenerator>(using rng: inout G) -> Int {
        let u = rng.nextUnit()
        // Binary search for the first cumulative probability strictly above u.
        var lo = 0, hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] > u { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// The next name drawn.
    public func pick<G: RandomNumberGenerator>(using rng: inout G) -> String {
        names[pickIndex(using: &rng)]
    }
}

/// Builds the list of model names a workload spreads over.
public enum ModelNames {
    /// Expands `pattern` (with `{i}` replaced by 0..<count), or takes `explicit` names, and adds
    /// the base model first when `includeBase` is set or there are no adapters at all.
    public static func make(base: String, adapterCount: Int, pattern: String, explicit: [String] = [], includeBase: Bool) -> [String] {
        let adapters = explicit.isEmpty
            ? (0..<max(adapterCount, 0)).map { pattern.replacingAll("{i}", with: String($0)) }
            : Array(explicit.prefix(adapterCount > 0 ? adapterCount : explicit.count))
        if adapters.isEmpty || includeBase { return [base] + adapters }
        return adapters
    }
}

extension String {
    /// Replaces every occurrence of `target` (non-empty) without needing Foundation.
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
