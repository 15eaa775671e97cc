import LoadGenCore
import Testing

/// The open-loop schedule must be a Poisson process: exponential gaps with mean 1/λ, reproducible from the seed.
@Suite("Poisson arrival schedule")
struct ScheduleTests {
    /// Gaps (in seconds) between the first `count` arrivals.
    func gaps(rate: Double, seed: UInt64, count: Int) -> [Double] {
        var arrivals = PoissonArrivals(rate: rate, seed: seed)
        var previous: UInt64 = 0
        return (0..<count).map { _ in
            let next = arrivals.next()!
            defer { previous = next }
            return TimeUnits.seconds(next - previous)
        }
    }

    @Test("inter-arrival gaps average 1/λ within 1.5% over 200,000 arrivals", arguments: [0.5, 4.0, 250.0])
    func meanGap(rate: Double) {
        let sample = gaps(rate: rate, seed: 42, count: 200_000)
        let mean = sample.reduce(0, +) / Double(sample.count)
        // The standard error of the mean is 0.22% here; 1.5% leaves a wide margin.
        #expect(abs(mean * rate - 1) < 0.015)
    }

    @Test("gaps are exponential: a fraction 1 − 1/e of them fall below the mean, and the variance is 1/λ²")
    func exponentialShape() {
        let rate = 10.0
        let sample = gaps(rate: rate, seed: 7, count: 200_000)
        let below = Double(sample.filter { $0 < 1 / rate }.count) / Double(sample.count)
        #expect(abs(below - (1 - 1 / 2.718281828459045)) < 0.006)
        // The median of an exponential is ln 2 / λ.
        let median = sample.sorted()[sample.count / 2]
        #expect(abs(median * rate - 0.6931471805599453) < 0.01)
        let mean = sample.reduce(0, +) / Double(sample.count)
        let variance = sample.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(sample.count)
        #expect(abs(variance * rate * rate - 1) < 0.03)
    }

    @Test("the same seed gives the same schedule; another seed gives another")
    func determinism() {
        #expect(gaps(rate: 3, seed: 99, count: 1000) == gaps(rate: 3, seed: 99, count: 1000))
        #expect(gaps(rate: 3, seed: 99, count: 1000) != gaps(rate: 3, seed: 100, count: 1000))
    }

    @Test("arrival times only increase")
    func monotonic() {
        var arrivals = PoissonArrivals(rate: 1000, seed: 1)
        var last: UInt64 = 0
        for _ in 0..<10_000 {
            let next = arrivals.next()!
            #expect(next >= last)
            last = next
        }
    }

    @Test("run limits need a count or a duration, and positive ones")
    func limits() {
        #expect(throws: ConfigError.self) { try RunLimits().validate() }
        #expect(throws: ConfigError.self) { try RunLimits(requests: 0).validate() }
        #expect(throws: ConfigError.self) { try RunLimits(durationSeconds: -1).validate() }
        #expect(throws: Never.self) { try RunLimits(requests: 5).validate() }
        #expect(throws: Never.self) { try RunLimits(durationSeconds: 2).validate() }
    }
}

/// The generators behind every random choice.
@Suite("Seeded random numbers")
struct RandomTests {
    @Test("xoshiro256** is deterministic per (seed, stream) and streams differ")
    func streams() {
        var a = Xoshiro256(seed: 5, stream: 1), b = Xoshiro256(seed: 5, stream: 1), c = Xoshiro256(seed: 5, stream: 2)
        let first = (0..<100).map { _ in a.next() }
        #expect(first == (0..<100).map { _ in b.next() })
        #expect(first != (0..<100).map { _ in c.next() })
    }

    @Test("SplitMix64 matches its published reference output for seed 0")
    func splitMixReference() {
        var generator = SplitMix64(seed: 0)
        #expect(generator.next() == 0xE220_A839_7B1D_CDAF)
        #expect(generator.next() == 0x6E78_9E6A_A1B9_65F4)
    }

    @Test("unit doubles are uniform on [0, 1): mean 1/2, variance 1/12")
    func unitUniform() {
        var rng = Xoshiro256(seed: 3)
        let values = (0..<100_000).map { _ in rng.nextUnit() }
        #expect(values.allSatisfy { $0 >= 0 && $0 < 1 })
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        #expect(abs(mean - 0.5) < 0.005)
        #expect(abs(variance - 1.0 / 12) < 0.002)
    }

    @Test("standard normals have mean 0 and variance 1")
    func normal() {
        var rng = Xoshiro256(seed: 11)
        let values = (0..<100_000).map { _ in rng.nextStandardNormal() }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        #expect(abs(mean) < 0.01)
        #expect(abs(variance - 1) < 0.02)
    }
}
