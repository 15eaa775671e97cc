/// A small seeded generator (SplitMix64) so a request with a seed samples the same tokens
/// every time, whatever else runs in the batch.
public struct RandomStream: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Starts the stream at `seed`.
    public init(seed: UInt64) { state = seed }

    /// Next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform float in [0, 1).
    public mutating func nextUnit() -> Float {
        Float(next() >> 40) / Float(1 << 24)
    }
}
