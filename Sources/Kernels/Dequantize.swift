// Dequantization of ggml tensor encodings into f32.
//
// These run once, at load time, so they are written plainly: one block at a time, straight from
// the raw bytes, no allocation. Each follows ggml's reference `dequantize_row_*` operation by
// operation (same products in the same order, no fused multiply-add), so results are bit-identical
// to ggml and to gguf-py.

/// A ggml tensor encoding, identified by its ggml type id (the value stored in GGUF tensor infos).
public enum GGMLType: UInt32, Sendable, CaseIterable {
    /// 32-bit IEEE float.
    case f32 = 0
    /// 16-bit IEEE half float.
    case f16 = 1
    /// 32 values in 18 bytes: f16 scale d, 16 bytes of 4-bit quants; value = d·(q − 8).
    case q4_0 = 2
    /// 32 values in 20 bytes: f16 scale d, f16 minimum m, 16 bytes of 4-bit quants; value = d·q + m.
    case q4_1 = 3
    /// 32 values in 34 bytes: f16 scale d, 32 signed 8-bit quants; value = d·q.
    case q8_0 = 8
    /// 256-value super-block in 144 bytes: 8 sub-blocks of 32 with 6-bit scales and mins.
    case q4_K = 12
    /// 256-value super-block in 210 bytes: 6-bit quants, 16 sub-blocks of 16 with 8-bit scales.
    case q6_K = 14
    /// bfloat16: the upper half of an f32.
    case bf16 = 30
}

extension GGMLType {
    /// Number of elements encoded together in one block.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q4_0, .q4_1, .q8_0: return 32
        case .q4_K, .q6_K: return 256
        }
    }

    /// Number of bytes one block occupies.
    public var bytesPerBlock: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q4_0: return 18
        case .q4_1: return 20
        case .q8_0: return 34
        case .q4_K: return 144
        case .q6_K: return 210
        }
    }

    /// Bytes needed for `elements` values, or nil when that is not a whole number of blocks
    /// (or is negative, or overflows).
    public func byteCount(elements: Int) -> Int? {
        guard elements >= 0, elements % blockSize == 0 else { return nil }
        let (bytes, overflow) = (elements / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return overflow ? nil : bytes
    }

    /// The lower-case name ggml uses for this type ("q4_K", "bf16", ...).
    public var name: String {
        switch self {
        case .f32: return "f32"
        case .f16: return "f16"
        case .q4_0: return "q4_0"
        case .q4_1: return "q4_1"
        case .q8_0: return "q8_0"
        case .q4_K: return "q4_K"
        case .q6_K: return "q6_K"
        case .bf16: return "bf16"
        }
    }
}

/// Decoders from ggml encodings to f32.
public enum Dequantize {
    /// Decodes `count` elements of `type` from `source` (raw little-endian bytes, any alignment)
    /// into `destination`.
    ///
    /// Semantics: destination[i] = value i of the encoded stream, for i < count.
    /// `count` must be a multiple of `type.blockSize`; callers validate sizes first.
    public static func run(
        _ type: GGMLType, source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>
    ) {
        precondition(count >= 0 && count % type.blockSize == 0, "element count is not a whole number of blocks")
        switch type {
        case .f32:
            // A byte copy: safetensors data need not be 4-byte aligned.
            UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * 4)
        case .f16: f16(source, count: count, into: destination)
        case .bf16: bf16(source, count: count, into: destination)
        case .q4_0: q4_0(source, count: count, into: destination)
        case .q4_1: q4_1(source, count: count, into: destination)
        case .q8_0: q8_0(source, count: count, into: destination)
        case .q4_K: q4_K(source, count: count, into: destination)
        case .q6_K: q6_K(source, count: count, into: destination)
        }
    }

    // MARK: Scalar conversions

    /// Converts IEEE half-precision bits to f32 exactly (subnormals, infinities and NaN payloads kept,
    /// as numpy does).
    @inline(__always)
    public static func floatFromHalf(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits) & 0x3FF
        if exponent == 0x1F {
            // Infinity or NaN: all-ones exponent, payload moved to the top of the f32 mantissa.
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent != 0 {
            // Normal: rebias the exponent from 15 to 127.
            return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
        }
        // Zero or subnormal: mantissa · 2^-24 is exact in f32.
        let magnitude = Float(mantissa) * 0x1p-24
        return Float(bitPattern: sign | magnitude.bitPattern)
    }

    /// Converts bfloat16 bits to f32 exactly (bfloat16 is the upper half of an f32).
    @inline(__always)
    public static func floatFromBFloat16(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    @inline(__always)
    static func half(_ source: UnsafeRawPointer, _ offset: Int) -> Float {
        floatFromHalf(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    // MARK: Element-wise float formats

    /// Decodes `count` little-endian f16 values.
    public static func f16(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        for i in 0..<count { destination[i] = half(source, 2 * i) }
    }

    /// Decodes `count` little-endian bf16 values.
    public static func bf16(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        for i in 0..<count {
            destination[i] = floatFromBFloat16(
                UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        }
    }

    // MARK: 32-element blocks

    /// Decodes Q4_0 blocks. Semantics: y[j] = d·((qs[j] & 0xF) − 8), y[j+16] = d·((qs[j] >> 4) − 8).
    public static func q4_0(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        for block in 0..<(count / 32) {
            let x = source + block * 18
            let y = destination + block * 32
            let d = half(x, 0)
            let qs = (x + 2).assumingMemoryBound(to: UInt8.self)
            for j in 0..<16 {
                y[j] = Float(Int32(qs[j] & 0x0F) - 8) * d
                y[j + 16] = Float(Int32(qs[j] >> 4) - 8) * d
            }
        }
    }

    /// Decodes Q4_1 blocks. Semantics: y[j] = d·(qs[j] & 0xF) + m, y[j+16] = d·(qs[j] >> 4) + m
    /// (the product is rounded before m is added, as in the reference).
    public static func q4_1(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        for block in 0..<(count / 32) {
            let x = source + block * 20
            let y = destination + block * 32
            let d = half(x, 0)
            let m = half(x, 2)
            let qs = (x + 4).assumingMemoryBound(to: UInt8.self)
            for j in 0..<16 {
                let low = d * Float(qs[j] & 0x0F)
                let high = d * Float(qs[j] >> 4)
                y[j] = low + m
                y[j + 16] = high + m
            }
        }
    }

    /// Decodes Q8_0 blocks. Semantics: y[j] = d·qs[j] with qs signed.
    public static func q8_0(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        for block in 0..<(count / 32) {
            let x = source + block * 34
            let y = destination + block * 32
            let d = half(x, 0)
            let qs = (x + 2).assumingMemoryBound(to: Int8.self)
            for j in 0..<32 { y[j] = Float(qs[j]) * d }
        }
    }

    // MARK: 256-element super-blocks (K-quants)

    /// The 6-bit scale and min of Q4_K sub-block `j` (0..<8), packed in 12 bytes as ggml's
    /// `get_scale_min_k4`: sub-blocks 0–3 use the low 6 bits of bytes j and j+4; sub-blocks 4–7 take
    /// their low 4 bits from byte j+4 and their top 2 bits from the spare bits of bytes j−4 and j.
    @inline(__always)
    static func scaleMinK4(_ j: Int, _ scales: UnsafePointer<UInt8>) -> (scale: UInt8, min: UInt8) {
        if j < 4 {
            return (scales[j] & 63, scales[j + 4] & 63)
        }
        let scale = (scales[j + 4] & 0x0F) | ((scales[j - 4] >> 6) << 4)
        let min = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4)
        return (scale, min)
    }

    /// Decodes Q4_K super-blocks: f16 d, f16 dmin, 12 bytes of packed scales/mins, 128 bytes of quants.
    /// Semantics: for each 64-value chunk c, with (sc, mn) of sub-blocks 2c and 2c+1,
    /// y = (d·sc)·q − (dmin·mn), low nibbles of 32 bytes first, then their high nibbles.
    public static func q4_K(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        for block in 0..<(count / 256) {
            let x = source + block * 144
            var y = destination + block * 256
            let d = half(x, 0)
            let dmin = half(x, 2)
            let scales = (x + 4).assumingMemoryBound(to: UInt8.self)
            var q = (x + 16).assumingMemoryBound(to: UInt8.self)
            for chunk in 0..<4 {
                let (sc1, m1) = scaleMinK4(2 * chunk, scales)
                let (sc2, m2) = scaleMinK4(2 * chunk + 1, scales)
                let d1 = d * Float(sc1), min1 = dmin * Float(m1)
                let d2 = d * Float(sc2), min2 = dmin * Float(m2)
                for l in 0..<32 {
                    let product = d1 * Float(q[l] & 0x0F)
                    y[l] = product - min1
                }
                for l in 0..<32 {
                    let product = d2 * Float(q[l] >> 4)
                    y[l + 32] = product - min2
                }
                q += 32
                y += 64
            }
        }
    }

    /// Decodes Q6_K super-blocks: 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 int8 scales,
    /// f16 d. Semantics: value i = (d·scales[i/16])·(q6 − 32), with q6 assembled per 128-value half
    /// as ggml's `dequantize_row_q6_K` lays it out.
    public static func q6_K(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        for block in 0..<(count / 256) {
            let x = source + block * 210
            var y = destination + block * 256
            var ql = x.assumingMemoryBound(to: UInt8.self)
            var qh = (x + 128).assumingMemoryBound(to: UInt8.self)
            var sc = (x + 192).assumingMemoryBound(to: Int8.self)
            let d = half(x, 208)
            for _ in 0..<2 {
                for l in 0..<32 {
                    let s = l / 16
                    let q1 = Int32((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) - 32
                    let q2 = Int32((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32
                    let q3 = Int32((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32
                    let q4 = Int32((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32
                    y[l] = (d * Float(sc[s])) * Float(q1)
                    y[l + 32] = (d * Float(sc[s + 2])) * Float(q2)
                    y[l + 64] = (d * Float(sc[s + 4])) * Float(q3)
                    y[l + 96] = (d * Float(sc[s + 6])) * Float(q4)
                }
                y += 128
                ql += 64
                qh += 32
                sc += 8
            }
        }
    }
}
