import Kernels
import Testing

/// The plain definition of one low-rank task, row by row.
func referenceLowRank(x: [Float], ldx: Int, y: inout [Float], ldy: Int, firstRow: Int, rows: Int, rank: Int,
                      inFeatures: Int, outFeatures: Int, yOffset: Int, a: [Float], bt: [Float], scale: Float,
                      gain: [Float]?, gainWeight: Float) {
    for r in firstRow..<firstRow + rows {
        var u = [Float](repeating: 0, count: rank)
        for k in 0..<rank { for i in 0..<inFeatures { u[k] += x[r * ldx + i] * a[k * inFeatures + i] } }
        for j in 0..<outFeatures {
            var value = y[r * ldy + yOffset + j]
            if let gain { value *= 1 + gainWeight * (gain[j] - 1) }
            for k in 0..<rank { value += scale * u[k] * bt[k * outFeatures + j] }
            y[r * ldy + yOffset + j] = value
        }
    }
}

/// A and Bᵀ (row-major values) stored as the loader stores them: tiled, at `precision`.
func storedFactors(a: [Float], bt: [Float], rank: Int, inFeatures: Int, outFeatures: Int,
                   precision: FactorPrecision = .f32) -> (a: LowRankFactor, bt: LowRankFactor) {
    (LowRankFactor(FloatBuffer(a), rows: rank, columns: inFeatures, layout: .a, precision: precision),
     LowRankFactor(FloatBuffer(bt), rows: rank, columns: outFeatures, layout: .bTransposed, precision: precision))
}

@Suite("LoRA shrink/expand kernel")
struct LowRankTests {
    @Test("factors are stored tile by tile in the order a decode row reads them (A: 8 ranks × 16 inputs, Bᵀ: 128 outputs)",
          arguments: [(16, 576), (5, 61), (9, 130), (1, 3)])
    func tiledStorage(rows: Int, columns: Int) {
        for layout in [FactorLayout.a, .bTransposed] {
            let values = (0..<rows * columns).map { Float($0) }
            let factor = LowRankFactor(FloatBuffer(values), rows: rows, columns: columns, layout: layout, precision: .f32)
            // Every element keeps its value and has a place of its own.
            #expect((0..<rows * columns).map { factor[$0] } == values)
            let stored = (0..<rows * columns).map { factor.pointer.load(fromByteOffset: $0 * 4, as: Float.self) }
            #expect(Set(stored).count == values.count)
            // The first stored values: row 0's first tile row, then row 1's (for Bᵀ, every rank is one band).
            let width = min(columns, layout == .a ? 16 : 128)
            #expect(Array(stored.prefix(width)) == Array(values.prefix(width)))
            if rows > 1 { #expect(stored[width] == values[columns]) }
        }
    }


    @Test("several segments and modules at once equal the plain definition (odd sizes, DoRA gains, offsets)",
          arguments: [(1, 64), (3, 577), (9, 160)])
    func matchesReference(rank: Int, inFeatures: Int) {
        let rows = 11, ldx = inFeatures + 3, outA = 37, outB = 64, ldy = outA + outB + 5
        let x = randomFloats(rows * ldx, seed: 1)
        let initial = randomFloats(rows * ldy, seed: 2)
        let a1 = randomFloats(rank * inFeatures, seed: 3), bt1 = randomFloats(rank * outA, seed: 4)
        let a2 = randomFloats(rank * inFeatures, seed: 5), bt2 = randomFloats(rank * outB, seed: 6)
        let gain = randomFloats(outB, seed: 7, scale: 0.2).map { 1 + $0 }
        var expected = initial
        // Segment rows 0..<4 adapt module A (LoRA), rows 4..<11 module B (DoRA, request scale 0.5).
        referenceLowRank(x: x, ldx: ldx, y: &expected, ldy: ldy, firstRow: 0, rows: 4, rank: rank, inFeatures: inFeatures,
                         outFeatures: outA, yOffset: 0, a: a1, bt: bt1, scale: 2, gain: nil, gainWeight: 0)
        referenceLowRank(x: x, ldx: ldx, y: &expected, ldy: ldy, firstRow: 4, rows: 7, rank: rank, inFeatures: inFeatures,
                         outFeatures: outB, yOffset: outA + 2, a: a2, bt: bt2, scale: 0.75, gain: gain, gainWeight: 0.5)
        let f1 = storedFactors(a: a1, bt: bt1, rank: rank, inFeatures: inFeatures, outFeatures: outA)
        let f2 = storedFactors(a: a2, bt: bt2, rank: rank, inFeatures: inFeatures, outFeatures: outB)
        var got = initial
        withExtendedLifetime((f1, f2)) { x.withUnsafeBufferPointer { x in gain.withUnsafeBufferPointer { g in
            got.withUnsafeMutableBufferPointer { y in
                let tasks = [
                    LowRank.task(firstRow: 0, rows: 3, rank: rank, inFeatures: inFeatures, outFeatures: outA, yOffset: 0,
                                 a: f1.a.pointer, bTransposed: f1.bt.pointer, scale: 2, gain: nil, gainWeight: 0),
                    LowRank.task(firstRow: 3, rows: 1, rank: rank, inFeatures: inFeatures, outFeatures: outA, yOffset: 0,
                                 a: f1.a.pointer, bTransposed: f1.bt.pointer, scale: 2, gain: nil, gainWeight: 0),
                    LowRank.task(firstRow: 4, rows: 7, rank: rank, inFeatures: inFeatures, outFeatures: outB,
                                 yOffset: outA + 2, a: f2.a.pointer, bTransposed: f2.bt.pointer, scale: 0.75,
                                 gain: g.baseAddress!, gainWeight: 0.5),
                ]
                tasks.withUnsafeBufferPointer { LowRank.apply($0, x: x.baseAddress!, ldx: ldx, y: y.baseAddress!, ldy: ldy) }
            }
        } } }
        let scaleOfValues = expected.map(abs).max() ?? 1
        #expect(maxAbsDifference(got, expected) <= 1e-5 * scaleOfValues)
        #expect(got[rows * ldy - 1] == initial[rows * ldy - 1], "columns outside every task are untouched")
    }

    @Test("a row's result does not depend on how the rows are split into tasks and row groups (AVX-512 and AVX2 sizes, DoRA gain)",
          arguments: [(576, 192), (100, 50)])
    func rowIndependence(inFeatures: Int, out: Int) {
        let rank = 8, rows = 19
        let x = randomFloats(rows * inFeatures, seed: 11), a = randomFloats(rank * inFeatures, seed: 12)
        let bt = randomFloats(rank * out, seed: 13), gain = randomFloats(out, seed: 14).map { 1 + 0.5 * $0 }
        let factors = storedFactors(a: a, bt: bt, rank: rank, inFeatures: inFeatures, outFeatures: out)
        func run(_ split: [Int]) -> [Float] {
            var y = [Float](repeating: 0.5, count: rows * out)
            withExtendedLifetime(factors) { x.withUnsafeBufferPointer { x in
                gain.withUnsafeBufferPointer { gain in y.withUnsafeMutableBufferPointer { y in
                    var first = 0
                    let tasks = split.map { count -> LowRank.Task in
                        defer { first += count }
                        return LowRank.task(firstRow: first, rows: count, rank: rank, inFeatures: inFeatures, outFeatures: out,
                                            yOffset: 0, a: factors.a.pointer, bTransposed: factors.bt.pointer, scale: 1.5,
                                            gain: gain.baseAddress!, gainWeight: 0.75)
                    }
                    tasks.withUnsafeBufferPointer { LowRank.apply($0, x: x.baseAddress!, ldx: inFeatures, y: y.baseAddress!, ldy: out) }
                } }
            } }
            return y
        }
        let oneRowEach = run(Array(repeating: 1, count: rows))
        // Groups the kernel forms: 8 + 8 + 3; 4 | 8 + 4 + 3; 8 + 4 + 1 | 4 + 2; 8 + 8 | 3.
        for split in [[19], [4, 15], [13, 6], [16, 3]] {
            #expect(run(split) == oneRowEach, "split \(split)")
        }
    }

    @Test("16-bit factors give exactly what f32 factors holding the same rounded values give",
          arguments: [FactorPrecision.f16, .bf16], [(8, 576, 192), (5, 61, 13)])
    func halfFactors(precision: FactorPrecision, shape: (rank: Int, inFeatures: Int, out: Int)) {
        let (rank, inFeatures, out) = shape
        let rows = 5
        let x = randomFloats(rows * inFeatures, seed: 21)
        let (a, bt) = storedFactors(a: randomFloats(rank * inFeatures, seed: 22), bt: randomFloats(rank * out, seed: 23),
                                    rank: rank, inFeatures: inFeatures, outFeatures: out, precision: precision)
        #expect(a.precision == precision && a.byteCount == rank * inFeatures * 2)
        // The same values, rounded to 16 bits and widened back, in f32 storage.
        let (aWide, btWide) = storedFactors(a: (0..<a.count).map { a[$0] }, bt: (0..<bt.count).map { bt[$0] },
                                            rank: rank, inFeatures: inFeatures, outFeatures: out)
        let gain = FloatBuffer(randomFloats(out, seed: 24, scale: 0.2).map { 1 + $0 })
        func run(_ a: LowRankFactor, _ bt: LowRankFactor) -> [Float] {
            var y = randomFloats(rows * out, seed: 25)
            withExtendedLifetime((a, bt)) { x.withUnsafeBufferPointer { x in
                y.withUnsafeMutableBufferPointer { y in
                    let tasks = [
                        LowRank.task(firstRow: 0, rows: 2, rank: rank, inFeatures: inFeatures, outFeatures: out, yOffset: 0,
                                     a: a.pointer, bTransposed: bt.pointer, precision: a.precision, scale: 0.5, gain: nil, gainWeight: 0),
                        LowRank.task(firstRow: 2, rows: 3, rank: rank, inFeatures: inFeatures, outFeatures: out, yOffset: 0,
                                     a: a.pointer, bTransposed: bt.pointer, precision: a.precision, scale: 2,
                                     gain: UnsafePointer(gain.pointer), gainWeight: 0.75),
                    ]
                    tasks.withUnsafeBufferPointer { LowRank.apply($0, x: x.baseAddress!, ldx: inFeatures, y: y.baseAddress!, ldy: out) }
                }
            } }
            return y
        }
        #expect(run(a, bt) == run(aWide, btWide))
        let original = randomFloats(rank * inFeatures, seed: 22)
        let worst = (0..<a.count).map { abs(a[$0] - original[$0]) / max(abs(original[$0]), 1e-3) }.max() ?? 0
        // Round to nearest: binary16 keeps 11 significant bits, bfloat16 8 (relative error ≤ half an ulp).
        let bound: Float = precision == .f16 ? 1.0 / 2048 : 1.0 / 256
        #expect(worst <= bound)
    }
}
