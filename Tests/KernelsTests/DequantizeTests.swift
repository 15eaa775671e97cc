import Testing
import Kernels

/// Dequantizers against independently written packers: each test encodes known values the way
/// the ggml block layout describes, then checks the decoder returns them exactly.
/// (Bit-exactness against gguf-py on random blocks is tested in ModelFormatsTests.)
@Suite("dequantization")
struct DequantizeTests {
    private func decode(_ type: GGMLType, _ bytes: [UInt8], count: Int) -> [Float] {
        var out = [Float](repeating: .nan, count: count)
        bytes.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { Dequantize.run(type, source: raw.baseAddress!, count: count, into: $0.baseAddress!) }
        }
        return out
    }

    /// Records the first element where `actual` and `expected` differ bitwise (short failure output).
    private func expectIdentical(_ actual: [Float], _ expected: [Float], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.count == expected.count, sourceLocation: sourceLocation)
        let common = 0..<min(actual.count, expected.count)
        if let i = common.first(where: { actual[$0].bitPattern != expected[$0].bitPattern }) {
            Issue.record("element \(i): \(actual[i]) != \(expected[i])", sourceLocation: sourceLocation)
        }
    }

    private func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    private func half(_ v: Float) -> [UInt8] { le16(Float16(v).bitPattern) }

    @Test("block sizes and byte counts follow ggml")
    func sizes() {
        let table: [(GGMLType, Int, Int)] = [
            (.f32, 1, 4), (.f16, 1, 2), (.bf16, 1, 2), (.q4_0, 32, 18), (.q4_1, 32, 20),
            (.q8_0, 32, 34), (.q4_K, 256, 144), (.q6_K, 256, 210),
        ]
        for (type, block, bytes) in table {
            #expect(type.blockSize == block)
            #expect(type.bytesPerBlock == bytes)
        }
        #expect(GGMLType.q4_1.byteCount(elements: 64) == 40)
        #expect(GGMLType.q4_1.byteCount(elements: 48) == nil)
        #expect(GGMLType.f32.byteCount(elements: -1) == nil)
        #expect(GGMLType.f32.byteCount(elements: Int.max) == nil)
        #expect(GGMLType(rawValue: 30) == .bf16)
        #expect(GGMLType(rawValue: 6) == nil)
    }

    @Test("every f16 bit pattern converts exactly like Float(Float16), NaN payloads kept")
    func halfExhaustive() {
        for bits in 0...UInt16.max {
            let ours = Dequantize.floatFromHalf(bits)
            let native = Float(Float16(bitPattern: bits))
            if native.isNaN {
                #expect(ours.isNaN)
                #expect(ours.bitPattern == (UInt32(bits & 0x8000) << 16) | 0x7F80_0000 | (UInt32(bits & 0x3FF) << 13))
            } else if ours.bitPattern != native.bitPattern {
                Issue.record("f16 \(bits): \(ours) != \(native)")
                return
            }
        }
    }

    @Test("bf16 is the upper half of an f32")
    func bfloat16() {
        #expect(Dequantize.floatFromBFloat16(0x3F80) == 1)
        #expect(Dequantize.floatFromBFloat16(0xC040) == -3)
        #expect(Dequantize.floatFromBFloat16(0x8000).bitPattern == 0x8000_0000)
        #expect(decode(.bf16, [0x80, 0x3F, 0x40, 0xC0], count: 2) == [1, -3])
    }

    @Test("f32 and f16 decode from unaligned bytes")
    func unalignedFloats() {
        let one: [UInt8] = [0, 0, 0x80, 0x3F]
        let bytes: [UInt8] = [0xAA] + one + one
        let decoded = bytes.withUnsafeBytes { raw -> [Float] in
            var out = [Float](repeating: 0, count: 2)
            out.withUnsafeMutableBufferPointer { Dequantize.run(.f32, source: raw.baseAddress! + 1, count: 2, into: $0.baseAddress!) }
            return out
        }
        #expect(decoded == [1, 1])
        #expect(decode(.f16, half(0.5) + half(-65504), count: 2) == [0.5, -65504])
    }

    @Test("Q4_0: value = d·(q − 8), low nibbles first")
    func q4_0() {
        let qs: [UInt8] = (0..<16).map { (j: Int) -> UInt8 in UInt8(j) | (UInt8(15 - j) << 4) }
        let out = decode(.q4_0, half(0.25) + qs, count: 32)
        let low: [Float] = (0..<16).map { (j: Int) -> Float in Float(j - 8) * 0.25 }
        let high: [Float] = (0..<16).map { (j: Int) -> Float in Float(7 - j) * 0.25 }
        let expected = low + high
        expectIdentical(out, expected)
    }

    @Test("Q4_1: value = d·q + m, the product rounded before adding m")
    func q4_1() {
        let d: Float = 0.1, m: Float = -0.7
        let highNibbles: [Int] = (0..<16).map { ($0 * 7) % 16 }
        let qs: [UInt8] = (0..<16).map { (j: Int) -> UInt8 in UInt8(j) | (UInt8(highNibbles[j]) << 4) }
        let out = decode(.q4_1, half(d) + half(m) + qs, count: 32)
        let dh = Float(Float16(d)), mh = Float(Float16(m))
        let low: [Float] = (0..<16).map { (j: Int) -> Float in dh * Float(j) + mh }
        let high: [Float] = highNibbles.map { (q: Int) -> Float in dh * Float(q) + mh }
        let expected = low + high
        expectIdentical(out, expected)
    }

    @Test("Q8_0: value = d·q with signed quants, over several blocks")
    func q8_0() {
        var bytes: [UInt8] = []
        var expected: [Float] = []
        for block in 0..<3 {
            let d = Float(block + 1) * 0.5
            bytes += half(d)
            for j in 0..<32 {
                let q = Int8(truncatingIfNeeded: j * 8 - 128 + block)
                bytes.append(UInt8(bitPattern: q))
                expected.append(Float(q) * d)
            }
        }
        expectIdentical(decode(.q8_0, bytes, count: 96), expected)
    }

    /// Packs eight 6-bit (scale, min) pairs into ggml's 12-byte Q4_K layout.
    private func packScalesMins(_ scales: [UInt8], _ mins: [UInt8]) -> [UInt8] {
        var packed = [UInt8](repeating: 0, count: 12)
        for j in 0..<4 {
            packed[j] = (scales[j] & 63) | ((scales[j + 4] >> 4) << 6)
            packed[j + 4] = (mins[j] & 63) | ((mins[j + 4] >> 4) << 6)
            packed[j + 8] = (scales[j + 4] & 0x0F) | ((mins[j + 4] & 0x0F) << 4)
        }
        return packed
    }

    @Test("Q4_K: 6-bit scales and mins unpack for all eight sub-blocks; value = (d·sc)·q − dmin·m")
    func q4_K() {
        let scales: [UInt8] = [1, 63, 17, 32, 48, 5, 62, 33]
        let mins: [UInt8] = [0, 9, 63, 40, 16, 61, 2, 47]
        let q: [UInt8] = (0..<256).map { (i: Int) -> UInt8 in UInt8((i * 5 + 3) % 16) }
        var qs = [UInt8](repeating: 0, count: 128)
        // Sub-blocks 2c and 2c+1 share 32 bytes: low nibbles hold the first, high nibbles the second.
        for chunk in 0..<4 {
            for l in 0..<32 { qs[chunk * 32 + l] = q[chunk * 64 + l] | (q[chunk * 64 + 32 + l] << 4) }
        }
        let d: Float = 0.003, dmin: Float = 0.001
        let out = decode(.q4_K, half(d) + half(dmin) + packScalesMins(scales, mins) + qs, count: 256)
        let dh = Float(Float16(d)), mh = Float(Float16(dmin))
        let expected: [Float] = (0..<256).map { (i: Int) -> Float in
            let product = (dh * Float(scales[i / 32])) * Float(q[i])
            return product - mh * Float(mins[i / 32])
        }
        expectIdentical(out, expected)
    }

    @Test("Q6_K: 4 low + 2 high bits per quant, int8 scale per 16 values; value = (d·sc)·(q − 32)")
    func q6_K() {
        let q: [UInt8] = (0..<256).map { (i: Int) -> UInt8 in UInt8((i * 37 + 11) % 64) }
        let scales: [Int8] = (0..<16).map { (i: Int) -> Int8 in Int8(i * 15 - 120) }
        var ql = [UInt8](repeating: 0, count: 128), qh = [UInt8](repeating: 0, count: 64)
        // Each 128-value half: values 0–31 and 64–95 share ql[0..<32] (low/high nibble), 32–63 and
        // 96–127 share ql[32..<64]; qh[l] holds the top bits of values l, l+32, l+64, l+96.
        for half in 0..<2 {
            for l in 0..<32 {
                let v: [UInt8] = (0..<4).map { (k: Int) -> UInt8 in q[half * 128 + l + 32 * k] }
                ql[half * 64 + l] = (v[0] & 0x0F) | ((v[2] & 0x0F) << 4)
                ql[half * 64 + l + 32] = (v[1] & 0x0F) | ((v[3] & 0x0F) << 4)
                let top01: UInt8 = (v[0] >> 4) | ((v[1] >> 4) << 2)
                let top23: UInt8 = ((v[2] >> 4) << 4) | ((v[3] >> 4) << 6)
                qh[half * 32 + l] = top01 | top23
            }
        }
        let d: Float = -0.0007
        let scaleBytes: [UInt8] = scales.map { UInt8(bitPattern: $0) }
        let out = decode(.q6_K, ql + qh + scaleBytes + half(d), count: 256)
        let dh = Float(Float16(d))
        let expected: [Float] = (0..<256).map { (i: Int) -> Float in (dh * Float(scales[i / 16])) * Float(Int(q[i]) - 32) }
        expectIdentical(out, expected)
    }
}
