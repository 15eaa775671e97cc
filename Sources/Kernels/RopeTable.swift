import Foundation

/// How rotary frequencies are rescaled for long contexts.
public enum RopeScaling: Sendable, Equatable {
    /// Plain RoPE.
    case none
    /// Linear position interpolation: every frequency divided by `factor`.
    case linear(factor: Float)
    /// Llama 3.1's band-wise rescaling (transformers' `_compute_llama3_parameters`).
    case llama3(factor: Float, lowFrequencyFactor: Float, highFrequencyFactor: Float, originalContext: Int)
}

/// Precomputed cos/sin of every (position, frequency) pair: [maxPositions, headDim/2] each.
public final class RopeTable: @unchecked Sendable {
    /// cos(position · invFrequency[i]).
    public let cos: FloatBuffer
    /// sin(position · invFrequency[i]).
    public let sin: FloatBuffer
    /// Positions covered.
    public let maxPositions: Int
    /// Frequencies per head (headDim / 2).
    public let half: Int

    /// Builds the table the way transformers does: inverse frequencies in float32,
    /// angle = Float(position) · invFrequency in float32, then cos and sin.
    public init(headDim: Int, theta: Float, scaling: RopeScaling, maxPositions: Int) {
        half = headDim / 2
        self.maxPositions = maxPositions
        let inv = RopeTable.inverseFrequencies(headDim: headDim, theta: theta, scaling: scaling)
        cos = FloatBuffer(count: maxPositions * half)
        sin = FloatBuffer(count: maxPositions * half)
        for position in 0..<maxPositions {
            for i in 0..<half {
                let angle = Float(position) * inv[i]
                cos.pointer[position * half + i] = Foundation.cos(angle)
                sin.pointer[position * half + i] = Foundation.sin(angle)
            }
        }
    }

    /// invFrequency[i] = 1 / theta^(2i / headDim), rescaled as `scaling` says.
    public static func inverseFrequencies(headDim: Int, theta: Float, scaling: RopeScaling) -> [Float] {
        // transformers: 1.0 / (base ** (arange(0, dim, 2, dtype=int64).float() / dim))
        var inv = (0..<(headDim / 2)).map { i -> Float in
            1 / powf(theta, Float(2 * i) / Float(headDim))
        }
        switch scaling {
        case .none:
            break
        case .linear(let factor):
            inv = inv.map { $0 / factor }
        case let .llama3(factor, low, high, original):
            let lowWavelength = Float(original) / low
            let highWavelength = Float(original) / high
            inv = inv.map { f in
                let wavelength = 2 * Float.pi / f
                if wavelength < highWavelength { return f }
                if wavelength > lowWavelength { return f / factor }
                let smooth = (Float(original) / wavelength - low) / (high - low)
                return (1 - smooth) * f / factor + smooth * f
            }
        }
        return inv
    }
}
