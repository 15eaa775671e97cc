import Testing
import Kernels

/// Random but valid blocks of `type` for a [rows, columns] matrix.
func randomBlocks(_ type: GGMLType, rows: Int, columns: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
    func half(_ value: Float) -> [UInt8] { let bits = Float16(value).bitPattern; return [UInt8(bits & 0xFF), UInt8(bits >> 8)] }
    var bytes: [UInt8] = []
    for _ in 0..<(rows * columns / 32) {
        let scale = Float(next() % 1000 + 1) / 20_000
        switch type {
        case .q4_1:
            bytes += half(scale) + half(-Float(next() % 1000) / 2_000)
            bytes += (0..<16).map { _ in UInt8(next() & 0xFF) }
        case .q8_0:
            bytes += half(next() % 2 == 0 ? scale : -scale)
            bytes += (0..<32).map { _ in UInt8(next() & 0xFF) }
        default:
            fatalError("not a small-batch type")
        }
    }
    return bytes
}

/// A Q4_1 matrix of random blocks.
func randomQ4_1Matrix(rows: Int, columns: Int, seed: UInt64) -> QuantizedMatrix {
    randomBlocks(.q4_1, rows: rows, columns: columns, seed: seed).withUnsafeBytes {
        QuantizedMatrix(type: .q4_1, columns: columns, parts: [($0, rows, nil)])
    }
}

// Serialized: two tests switch the panel kernel between AVX2 and AVX-512 for the whole process.
@Suite("Quantized small-batch products equal the f32 product of the dequantized weights", .serialized)
struct QuantizedMatrixTests {
    @Test("Q4_1 and Q8_0, one-pass and panel kernels, with strides and accumulation",
          arguments: [GGMLType.q4_1, .q8_0], [1, 2, 3, 4, 5, 8, 13, 33])
    func matchesDequantizedProduct(type: GGMLType, batchRows: Int) {
        let outFeatures = 37, inFeatures = 96   // odd output count exercises the tails
        let blocks = randomBlocks(type, rows: outFeatures, columns: inFeatures, seed: 11)
        var dense = [Float](repeating: 0, count: outFeatures * inFeatures)
        blocks.withUnsafeBytes { raw in
            dense.withUnsafeMutableBufferPointer {
                Dequantize.run(type, source: raw.baseAddress!, count: outFeatures * inFeatures, into: $0.baseAddress!)
            }
        }
        let matrix = blocks.withUnsafeBytes { raw in
            QuantizedMatrix(type: type, columns: inFeatures, parts: [(bytes: raw, rows: outFeatures, rowOrder: nil)])
        }
        let ldx = inFeatures + 8, ldy = outFeatures + 5
        let x = randomFloats(batchRows * ldx, seed: 12, scale: 2)
        let compactX = (0..<batchRows).flatMap { r in x[(r * ldx)..<(r * ldx + inFeatures)] }
        let expected = ReferenceOps.xwt(compactX, dense, rows: batchRows, inFeatures: inFeatures, outFeatures: outFeatures)

        let xb = FloatBuffer(x), y = FloatBuffer([Float](repeating: 0.5, count: batchRows * ldy))
        matrix.xwt(batchRows: batchRows, x: xb.pointer, ldx: ldx, y: y.pointer, ldy: ldy, accumulate: true)
        var worst: Float = 0
        for r in 0..<batchRows {
            for o in 0..<outFeatures { worst = max(worst, abs(y[r * ldy + o] - 0.5 - expected[r * outFeatures + o])) }
            for o in outFeatures..<ldy { #expect(y[r * ldy + o] == 0.5, "padding column written") }
        }
        #expect(worst < 1e-4)
    }

    @Test("the AVX2 and AVX-512 panel kernels give the same products")
    func instructionSets() {
        let outFeatures = 21, inFeatures = 64, batchRows = 9
        let matrix = randomQ4_1Matrix(rows: outFeatures, columns: inFeatures, seed: 5)
        let x = FloatBuffer(randomFloats(batchRows * inFeatures, seed: 6))
        func product() -> [Float] {
            let y = FloatBuffer(count: batchRows * outFeatures)
            matrix.xwt(batchRows: batchRows, x: x.pointer, ldx: inFeatures, y: y.pointer, ldy: outFeatures)
            return y.array
        }
        QuantizedMatrix.allowAVX512(false)
        let avx2 = product()
        let wide = QuantizedMatrix.allowAVX512(true)
        let avx512 = product()
        #expect(maxAbsDifference(avx2, avx512) < 1e-5, "AVX-512 in use: \(wide)")
    }

    @Test("the product with its low-rank tasks run alongside equals the product, then the tasks, to the bit",
          arguments: [(32, false, true), (9, true, true), (2, false, true), (32, true, false)])
    func lowRankAlongsideEqualsInSequence(batchRows: Int, accumulate: Bool, avx512: Bool) {
        _ = QuantizedMatrix.allowAVX512(avx512)
        defer { _ = QuantizedMatrix.allowAVX512(true) }
        // Two stacked modules (64 and 40 outputs: the AVX-512 and the AVX2 kernel), every storage kind, a DoRA gain.
        let inFeatures = 96, widths = [64, 40], outFeatures = 104
        let matrix = randomQ4_1Matrix(rows: outFeatures, columns: inFeatures, seed: 8)
        let x = FloatBuffer(randomFloats(batchRows * inFeatures, seed: 9))
        let gain = FloatBuffer(randomFloats(widths[0], seed: 10, scale: 0.3).map { 1 + $0 })
        let precisions: [FactorPrecision] = [.f32, .f16, .bf16]
        let factors = (0..<6).map { i in
            storedFactors(a: randomFloats((4 + i) * inFeatures, seed: UInt64(30 + i)),
                          bt: randomFloats((4 + i) * widths[i % 2], seed: UInt64(40 + i)),
                          rank: 4 + i, inFeatures: inFeatures, outFeatures: widths[i % 2], precision: precisions[i % 3])
        }
        // Rows in segments of 1, 2 and the rest; each segment adapts both modules.
        let segments = [0..<min(1, batchRows), min(1, batchRows)..<min(3, batchRows), min(3, batchRows)..<batchRows]
        var tasks: [LowRank.Task] = []
        for (s, rows) in segments.enumerated() where !rows.isEmpty {
            for module in 0..<2 {
                let f = factors[2 * s + module]
                tasks.append(LowRank.task(firstRow: rows.lowerBound, rows: rows.count, rank: 4 + 2 * s + module,
                                          inFeatures: inFeatures, outFeatures: widths[module], yOffset: module * widths[0],
                                          a: f.a.pointer, bTransposed: f.bt.pointer, precision: f.a.precision,
                                          scale: 0.5 + Float(s), gain: s == 1 && module == 0 ? UnsafePointer(gain.pointer) : nil,
                                          gainWeight: 0.75))
            }
        }
        let initial = randomFloats(batchRows * outFeatures, seed: 11)
        func product(alongside: Bool) -> [Float] {
            let y = FloatBuffer(initial)
            let delta = FloatBuffer(count: batchRows * outFeatures)
            // The tasks point into the factors: keep them alive until the products are done.
            withExtendedLifetime(factors) { tasks.withUnsafeBufferPointer { tasks in
                if alongside {
                    matrix.xwt(batchRows: batchRows, x: x.pointer, ldx: inFeatures, y: y.pointer, ldy: outFeatures,
                               accumulate: accumulate, lowRank: tasks, delta: delta.pointer)
                } else {
                    matrix.xwt(batchRows: batchRows, x: x.pointer, ldx: inFeatures, y: y.pointer, ldy: outFeatures,
                               accumulate: accumulate)
                    LowRank.apply(tasks, x: x.pointer, ldx: inFeatures, y: y.pointer, ldy: outFeatures)
                }
            } }
            return y.array
        }
        let inSequence = product(alongside: false)
        #expect(product(alongside: true) == inSequence)
        // And the tasks did something: the base product alone differs.
        let baseOnly = FloatBuffer(initial)
        matrix.xwt(batchRows: batchRows, x: x.pointer, ldx: inFeatures, y: baseOnly.pointer, ldy: outFeatures, accumulate: accumulate)
        #expect(baseOnly.array != inSequence)
    }

    @Test("row order and stacking: parts are concatenated, rows taken in the order given")
    func stacking() {
        let a = randomBlocks(.q8_0, rows: 4, columns: 32, seed: 1), b = randomBlocks(.q8_0, rows: 2, columns: 32, seed: 2)
        let m = a.withUnsafeBytes { ra in b.withUnsafeBytes { rb in
            QuantizedMatrix(type: .q8_0, columns: 32, parts: [(ra, 4, [3, 2, 1, 0]), (rb, 2, nil)])
        } }
        #expect(m.rows == 6)
        let rowBytes = 34
        for (i, source) in [3, 2, 1, 0].enumerated() {
            #expect(Array(UnsafeRawBufferPointer(start: m.bytes + i * rowBytes, count: rowBytes)) == Array(a[(source * rowBytes)..<((source + 1) * rowBytes)]))
        }
        #expect(Array(UnsafeRawBufferPointer(start: m.bytes + 4 * rowBytes, count: 2 * rowBytes)) == b)
    }
}
