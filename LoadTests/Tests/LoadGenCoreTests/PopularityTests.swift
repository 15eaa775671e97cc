import Foundation
import LoadGenCore
import Testing

/// Adapter popularity: the empirical frequencies must match the normalized 1/k^α law.
@Suite("Adapter popularity")
struct PopularityTests {
    /// Frequencies of each rank over `draws` draws.
    func frequencies(_ popularity: Popularity, names: Int, draws: Int, seed: UInt64 = 2024) -> [Double] {
        let chooser = ModelChooser(names: (0..<names).map { "m\($0)" }, popularity: popularity)
        var rng = Xoshiro256(seed: seed)
        var counts = [Int](repeating: 0, count: names)
        for _ in 0..<draws { counts[chooser.pickIndex(using: &rng)] += 1 }
        return counts.map { Double($0) / Double(draws) }
    }

    @Test("Zipf frequencies match 1/k^α normalized, within 0.5 percentage points", arguments: [0.0, 1.0, 1.2])
    func zipfFrequencies(alpha: Double) {
        let names = 10
        let weights = (1...names).map { 1 / pow(Double($0), alpha) }
        let total = weights.reduce(0, +)
        let observed = frequencies(.zipf(alpha: alpha), names: names, draws: 200_000)
        for k in 0..<names {
            // One standard error is at most 0.11 points at this sample size.
            #expect(abs(observed[k] - weights[k] / total) < 0.005, "rank \(k + 1)")
        }
    }

    @Test("under Zipf rank 1 is the most popular and popularity falls with rank", arguments: [1.0, 1.2])
    func rankOrder(alpha: Double) {
        let observed = frequencies(.zipf(alpha: alpha), names: 8, draws: 100_000)
        #expect(observed[0] == observed.max())
        for k in 1..<observed.count { #expect(observed[k] < observed[k - 1]) }
    }

    @Test("a chi-square test does not reject Zipf(1.2) over 64 names")
    func chiSquare() {
        let names = 64, draws = 300_000
        let expected = Popularity.zipf(alpha: 1.2).probabilities(count: names).map { $0 * Double(draws) }
        let observed = frequencies(.zipf(alpha: 1.2), names: names, draws: draws).map { $0 * Double(draws) }
        let statistic = zip(observed, expected).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) / $1.1 }
        // 63 degrees of freedom: the 99.9% quantile is about 103.4.
        #expect(statistic < 103.4)
    }

    @Test("uniform spreads evenly and single always picks the first name")
    func uniformAndSingle() {
        let uniform = frequencies(.uniform, names: 5, draws: 100_000)
        for f in uniform { #expect(abs(f - 0.2) < 0.006) }
        #expect(frequencies(.single, names: 5, draws: 1000) == [1, 0, 0, 0, 0])
    }

    @Test("popularity specs parse and print back")
    func parsing() throws {
        #expect(try Popularity(parsing: "single") == .single)
        #expect(try Popularity(parsing: "uniform") == .uniform)
        #expect(try Popularity(parsing: "zipf") == .zipf(alpha: 1))
        #expect(try Popularity(parsing: "zipf:1.2") == .zipf(alpha: 1.2))
        #expect(try Popularity(parsing: Popularity.zipf(alpha: 0.8).description) == .zipf(alpha: 0.8))
        #expect(throws: ConfigError.self) { try Popularity(parsing: "zipf:-1") }
        #expect(throws: ConfigError.self) { try Popularity(parsing: "pareto") }
    }

    @Test("model names come from the pattern, with the base first when included or when there are no adapters")
    func names() {
        #expect(ModelNames.make(base: "b", adapterCount: 3, pattern: "synth-{i}", includeBase: false) == ["synth-0", "synth-1", "synth-2"])
        #expect(ModelNames.make(base: "b", adapterCount: 2, pattern: "a{i}x{i}", includeBase: true) == ["b", "a0x0", "a1x1"])
        #expect(ModelNames.make(base: "b", adapterCount: 0, pattern: "synth-{i}", includeBase: false) == ["b"])
        #expect(ModelNames.make(base: "b", adapterCount: 1, pattern: "", explicit: ["x", "y"], includeBase: false) == ["x"])
    }
}
