import Foundation

/// Plain, obviously-correct twins of `Ops` and `Gemm` on Swift arrays. Tests only: they
/// define what the fast kernels must compute.
public enum ReferenceOps {
    /// y = x · wᵀ with x [rows, inFeatures], w [outFeatures, inFeatures].
    public static func xwt(_ x: [Float], _ w: [Float], rows: Int, inFeatures: Int, outFeatures: Int) -> [Float] {
        var y = [Float](repeating: 0, count: rows * outFeatures)
        for r in 0..<rows {
            for o in 0..<outFeatures {
                var sum: Double = 0
                for i in 0..<inFeatures { sum += Double(x[r * inFeatures + i]) * Double(w[o * inFeatures + i]) }
                y[r * outFeatures + o] = Float(sum)
            }
        }
        return y
    }

    /// RMSNorm of each row.
    public static func rmsNorm(_ x: [Float], weight: [Float], rows: Int, dim: Int, eps: Float) -> [Float] {
        var out = x
        for r in 0..<rows {
            var ss: Float = 0
            for i in 0..<dim { ss += x[r * dim + i] * x[r * dim + i] }
            let inv = 1 / (ss / Float(dim) + eps).squareRoot()
            for i in 0..<dim { out[r * dim + i] = weight[i] * (x[r * dim + i] * inv) }
        }
        return out
    }

    /// Rotate-half RoPE computed directly from the inverse frequencies.
    public static func ropeRotateHalf(_ x: [Float], rows: Int, heads: Int, headDim: Int,
                                      positions: [Int], inverseFrequencies inv: [Float]) -> [Float] {
        var out = x
        let half = headDim / 2
        for r in 0..<rows {
            for h in 0..<heads {
                let base = r * heads * headDim + h * headDim
                for i in 0..<half {
                    let angle = Float(positions[r]) * inv[i]
                    let a = x[base + i], b = x[base + i + half]
                    out[base + i] = a * cos(angle) - b * sin(angle)
                    out[base + i + half] = b * cos(angle) + a * sin(angle)
                }
            }
        }
        return out
    }

    /// silu(gate) ⊙ up.
    public static func siluMul(gate: [Float], up: [Float]) -> [Float] {
        zip(gate, up).map { g, u in g / (1 + exp(-g)) * u }
    }

    /// Causal multi-head attention over contiguous (unpaged) keys and values.
    /// q [nQuery, heads*headDim]; k, v [nKeys, kvHeads*headDim] with nKeys = firstPos + nQuery.
    public static func attention(q: [Float], k: [Float], v: [Float], nQuery: Int, firstPosition: Int,
                                 heads: Int, kvHeads: Int, headDim: Int) -> [Float] {
        let group = heads / kvHeads
        let kvDim = kvHeads * headDim
        let scale = 1 / Float(headDim).squareRoot()
        var out = [Float](repeating: 0, count: nQuery * heads * headDim)
        for i in 0..<nQuery {
            let visible = firstPosition + i + 1
            for h in 0..<heads {
                let kvh = h / group
                var scores = [Double](repeating: 0, count: visible)
                for t in 0..<visible {
                    var s: Double = 0
                    for d in 0..<headDim {
                        s += Double(q[i * heads * headDim + h * headDim + d]) * Double(k[t * kvDim + kvh * headDim + d])
                    }
                    scores[t] = s * Double(scale)
                }
                let maxScore = scores.max()!
                let weights = scores.map { exp($0 - maxScore) }
                let total = weights.reduce(0, +)
                for d in 0..<headDim {
                    var acc: Double = 0
                    for t in 0..<visible { acc += weights[t] / total * Double(v[t * kvDim + kvh * headDim + d]) }
                    out[i * heads * headDim + h * headDim + d] = Float(acc)
                }
            }
        }
        return out
    }

    /// `Ops.streamRead`'s sum, byte by byte.
    public static func streamRead(_ regions: [[UInt8]]) -> UInt64 {
        var total: UInt64 = 0
        for bytes in regions {
            let whole = bytes.count / 8 * 8
            for start in stride(from: 0, to: whole, by: 8) {
                var word: UInt64 = 0
                for b in 0..<8 { word |= UInt64(bytes[start + b]) << (8 * UInt64(b)) }
                total &+= word
            }
            for b in bytes[whole...] { total &+= UInt64(b) }
        }
        return total
    }
}
