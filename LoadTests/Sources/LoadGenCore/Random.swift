#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SplitMix64: a tiny generator used only to expand one 64-bit seed into well-mixed state.
///
/// Xoshiro's authors recommend seeding it through SplitMix64 so that similar seeds
/// (0, 1, 2…) still give unrelated streams.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Starts the sequence at `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256**: the seeded generator behind every random choice the load generator makes.
///
/// We never use `SystemRandomNumberGenerator` because a run must be reproducible from `--seed`:
/// the same seed gives the same arrival schedule and the same request sequence.
public struct Xoshiro256: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    /// A generator for `seed`; `stream` selects an independent sub-sequence (request index, schedule, …).
    ///
    /// Deriving per-request generators from (seed, index) makes request *i* the same no matter
    /// which client thread happens to send it, or in what order requests are drawn.
    public init(seed: UInt64, stream: UInt64 = 0) {
        var mixer = SplitMix64(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        // Burn one output so that stream 0 of seed s differs from a plain SplitMix64(s).
        _ = mixer.next()
        s0 = mixer.next(); s1 = mixer.next(); s2 = mixer.next(); s3 = mixer.next()
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

extension RandomNumberGenerator {
    /// A uniform double in [0, 1) with 53 random bits.
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// An exponential variate with the given rate (mean 1/rate), by inversion.
    public mutating func nextExponential(rate: Double) -> Double {
        // 1 - u lies in (0, 1], so the logarithm is finite.
        -log(1.0 - nextUnit()) / rate
    }

    /// A standard normal variate (Box–Muller; the second value is discarded for simplicity).
    public mutating func nextStandardNormal() -> Double {
        let u1 = 1.0 - nextUnit()
        let u2 = nextUnit()
        return (-2.0 * log(u1)).squareRoot() * cos(2.0 * Double.pi * u2)
    }

    /// A uniform integer in 0..<upperBound without modulo bias.
    public mutating func nextIndex(below upperBound: Int) -> Int {
        precondition(upperBound > 0, "upperBound must be positive")
        return Int(next(upperBound: UInt64(upperBound)))
    }
}
