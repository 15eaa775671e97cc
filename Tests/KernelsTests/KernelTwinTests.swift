import Testing
import Kernels

/// Deterministic pseudo-random floats in [-scale, scale).
func randomFloats(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

@Suite("Each fast kernel computes what its plain twin computes")
struct KernelTwinTests {
    @Test("gemm x·wᵀ equals the triple loop, with strides, scale and accumulation",
          arguments: [(1, 7, 5), (3, 64, 33), (17, 96, 128), (64, 576, 40)])
    func gemm(rows: Int, inFeatures: Int, outFeatures: Int) {
        let x = randomFloats(rows * inFeatures, seed: 1)
        let w = randomFloats(outFeatures * inFeatures, seed: 2)
        let expected = ReferenceOps.xwt(x, w, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        // Write into a wider output (ldy > outFeatures) pre-filled with ones, accumulating.
        let ldy = outFeatures + 3
        let y = FloatBuffer([Float](repeating: 1, count: rows * ldy))
        let xb = FloatBuffer(x), wb = FloatBuffer(w)
        Gemm.xwt(rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, x: xb.pointer, ldx: inFeatures,
                 w: wb.pointer, ldw: inFeatures, y: y.pointer, ldy: ldy, scale: 2, accumulate: true)
        var got: [Float] = []
        for r in 0..<rows { for o in 0..<outFeatures { got.append((y[r * ldy + o] - 1) / 2) } }
        #expect(maxAbsDifference(got, expected) < 1e-4 * Float(inFeatures).squareRoot())
        // Padding columns untouched.
        for r in 0..<rows { for o in outFeatures..<ldy { #expect(y[r * ldy + o] == 1) } }
    }

    @Test("rmsNorm matches the reference on odd widths", arguments: [1, 7, 64, 577])
    func rmsNorm(dim: Int) {
        let rows = 3
        let x = randomFloats(rows * dim, seed: 3, scale: 4)
        let weight = randomFloats(dim, seed: 4)
        let expected = ReferenceOps.rmsNorm(x, weight: weight, rows: rows, dim: dim, eps: 1e-5)
        let out = FloatBuffer(count: rows * dim)
        let xb = FloatBuffer(x), wb = FloatBuffer(weight)
        Ops.rmsNorm(x: xb.pointer, ldx: dim, weight: wb.pointer, out: out.pointer, ldo: dim, rows: rows, dim: dim, eps: 1e-5)
        #expect(maxAbsDifference(out.array, expected) < 1e-5)
    }

    @Test("rotate-half RoPE from the table equals RoPE from the frequencies",
          arguments: [RopeScaling.none, .linear(factor: 2),
                      .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 64)])
    func rope(scaling: RopeScaling) {
        let heads = 3, headDim = 16, rows = 5
        let positions = [0, 1, 7, 100, 511]
        let x = randomFloats(rows * heads * headDim, seed: 5)
        let table = RopeTable(headDim: headDim, theta: 10_000, scaling: scaling, maxPositions: 512)
        let inv = RopeTable.inverseFrequencies(headDim: headDim, theta: 10_000, scaling: scaling)
        let expected = ReferenceOps.ropeRotateHalf(x, rows: rows, heads: heads, headDim: headDim,
                                                   positions: positions, inverseFrequencies: inv)
        let xb = FloatBuffer(x)
        let p32 = positions.map(Int32.init)
        p32.withUnsafeBufferPointer {
            Ops.ropeRotateHalf(x: xb.pointer, ld: heads * headDim, rows: rows, heads: heads, headDim: headDim,
                               positions: $0.baseAddress!, table: table)
        }
        #expect(maxAbsDifference(xb.array, expected) < 1e-5)
    }

    @Test("llama3 rope scaling keeps high frequencies and divides low ones by the factor")
    func llama3Bands() {
        let plain = RopeTable.inverseFrequencies(headDim: 64, theta: 500_000, scaling: .none)
        let scaled = RopeTable.inverseFrequencies(
            headDim: 64, theta: 500_000,
            scaling: .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 8192))
        #expect(scaled[0] == plain[0])
        #expect(abs(scaled[31] - plain[31] / 8) < 1e-12)
    }

    @Test("silu·mul matches the reference")
    func siluMul() {
        let rows = 2, dim = 37
        let gate = randomFloats(rows * dim, seed: 6, scale: 6), up = randomFloats(rows * dim, seed: 7)
        let expected = ReferenceOps.siluMul(gate: gate, up: up)
        let g = FloatBuffer(gate), u = FloatBuffer(up), out = FloatBuffer(count: rows * dim)
        Ops.siluMul(gate: g.pointer, up: u.pointer, ldIn: dim, out: out.pointer, ldOut: dim, rows: rows, dim: dim)
        #expect(maxAbsDifference(out.array, expected) < 1e-5)
    }

    @Test("the stream read sums every byte of every region once, whatever the sizes and region count",
          arguments: [[0, 1, 7, 8, 9], [127, 128, 129, 4096 + 13], (0..<64).map { 1000 + 37 * $0 }])
    func streamRead(sizes: [Int]) {
        var state: UInt64 = 99
        let regions: [[UInt8]] = sizes.map { size in
            (0..<size).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: state >> 56)
            }
        }
        let buffers = regions.map { bytes -> UnsafeMutableRawBufferPointer in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
            buffer.copyBytes(from: bytes)
            return UnsafeMutableRawBufferPointer(rebasing: buffer[0..<bytes.count])
        }
        defer { buffers.forEach { $0.deallocate() } }
        let sum = Ops.streamRead(buffers.map { UnsafeRawBufferPointer($0) })
        #expect(sum == ReferenceOps.streamRead(regions))
        #expect(sum != 0)
    }

    @Test("paged attention over scattered blocks equals causal attention over contiguous keys",
          arguments: [(1, 0), (5, 0), (1, 40), (7, 13)])
    func pagedAttention(queries: Int, firstPosition: Int) {
        let heads = 4, kvHeads = 2, headDim = 16, blockSize = 4
        let kvDim = kvHeads * headDim, keys = firstPosition + queries
        let q = randomFloats(queries * heads * headDim, seed: 8)
        let k = randomFloats(keys * kvDim, seed: 9), v = randomFloats(keys * kvDim, seed: 10)
        let expected = ReferenceOps.attention(q: q, k: k, v: v, nQuery: queries, firstPosition: firstPosition,
                                              heads: heads, kvHeads: kvHeads, headDim: headDim)
        // Blocks handed out in a scrambled order, so the block table really matters.
        let blocksNeeded = (keys + blockSize - 1) / blockSize
        let pool = 2 * blocksNeeded + 3
        let table: [Int32] = (0..<blocksNeeded).map { Int32((pool - 1) - 2 * $0) }
        let kCache = FloatBuffer(count: pool * blockSize * kvDim), vCache = FloatBuffer(count: pool * blockSize * kvDim)
        let kb = FloatBuffer(k), vb = FloatBuffer(v), qb = FloatBuffer(q)
        let out = FloatBuffer(count: queries * heads * headDim), scores = FloatBuffer(count: 8 * keys)
        table.withUnsafeBufferPointer { t in
            Ops.storeKV(k: kb.pointer, ldk: kvDim, v: vb.pointer, ldv: kvDim, count: keys, firstPosition: 0,
                        kCache: kCache.pointer, vCache: vCache.pointer, blockTable: t.baseAddress!,
                        blockSize: blockSize, kvDim: kvDim)
            Ops.attention(q: qb.pointer, ldq: heads * headDim, queries: queries, firstPosition: firstPosition,
                          kCache: kCache.pointer, vCache: vCache.pointer, blockTable: t.baseAddress!,
                          blockSize: blockSize, heads: heads, kvHeads: kvHeads, headDim: headDim,
                          scale: 1 / Float(headDim).squareRoot(), out: out.pointer, ldo: heads * headDim,
                          scores: scores.pointer)
        }
        #expect(maxAbsDifference(out.array, expected) < 1e-5)
    }

    @Test("a whole step's attention on the thread pool equals per-chunk reference attention",
          arguments: [16, 64])   // headDim 64 takes the 16-query AVX-512 tile kernel for prefill chunks
    func attentionStep(headDim: Int) {
        let heads = 6, kvHeads = 2, blockSize = 4, kvDim = kvHeads * headDim
        // (queries, firstPosition) per chunk: decode rows, a long prefill chunk (several query tiles), a mid chunk.
        let shapes = [(1, 9), (37, 0), (1, 0), (5, 22)]
        let qWidth = heads * headDim
        let totalRows = shapes.reduce(0) { $0 + $1.0 }
        let q = randomFloats(totalRows * qWidth, seed: 20)
        var expected: [Float] = []
        var tables: [[Int32]] = []
        var nextBlock: Int32 = 0
        let pool = 64
        let kCache = FloatBuffer(count: pool * blockSize * kvDim), vCache = FloatBuffer(count: pool * blockSize * kvDim)
        var row = 0
        for (i, (queries, first)) in shapes.enumerated() {
            let keys = first + queries
            let k = randomFloats(keys * kvDim, seed: 30 + UInt64(i)), v = randomFloats(keys * kvDim, seed: 40 + UInt64(i))
            let table = (0..<((keys + blockSize - 1) / blockSize)).map { _ -> Int32 in nextBlock += 1; return Int32(pool) - nextBlock }
            tables.append(table)
            let kb = FloatBuffer(k), vb = FloatBuffer(v)
            table.withUnsafeBufferPointer { t in
                Ops.storeKV(k: kb.pointer, ldk: kvDim, v: vb.pointer, ldv: kvDim, count: keys, firstPosition: 0,
                            kCache: kCache.pointer, vCache: vCache.pointer, blockTable: t.baseAddress!,
                            blockSize: blockSize, kvDim: kvDim)
            }
            let chunkQ = Array(q[(row * qWidth)..<((row + queries) * qWidth)])
            expected += ReferenceOps.attention(q: chunkQ, k: k, v: v, nQuery: queries, firstPosition: first,
                                               heads: heads, kvHeads: kvHeads, headDim: headDim)
            row += queries
        }
        let flat = tables.flatMap { $0 }
        let qb = FloatBuffer(q), out = FloatBuffer(count: totalRows * qWidth)
        flat.withUnsafeBufferPointer { all in
            var offset = 0, firstRow = 0
            var chunks: [AttentionChunk] = []
            for (i, (queries, first)) in shapes.enumerated() {
                chunks.append(AttentionChunk(firstRow: Int32(firstRow), queries: Int32(queries),
                                             firstPosition: Int32(first), blockTable: all.baseAddress! + offset))
                offset += tables[i].count
                firstRow += queries
            }
            chunks.withUnsafeBufferPointer { c in
                Ops.attentionStep(q: qb.pointer, ldq: qWidth, chunks: c, kCache: kCache.pointer, vCache: vCache.pointer,
                                  blockSize: blockSize, heads: heads, kvHeads: kvHeads, headDim: headDim,
                                  scale: 1 / Float(headDim).squareRoot(), out: out.pointer, ldo: qWidth)
            }
        }
        #expect(maxAbsDifference(out.array, expected) < 1e-5)
    }
}
