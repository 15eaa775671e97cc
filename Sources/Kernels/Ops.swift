import CKernels

/// One sequence's rows inside a step (firstRow, queries, firstPosition, blockTable) for
/// `Ops.attentionStep`; the block table pointer must stay valid for the call.
public typealias AttentionChunk = sb_attention_chunk

/// The elementwise and attention kernels of the forward pass (AVX2 C code in CKernels).
/// Each has a plain twin in `ReferenceOps` that tests compare against.
public enum Ops {
    /// Semantics: `out[r] = x[r] / sqrt(mean(x[r]²) + eps) ⊙ weight` for each row r.
    @inlinable
    public static func rmsNorm(x: UnsafePointer<Float>, ldx: Int, weight: UnsafePointer<Float>,
                               out: UnsafeMutablePointer<Float>, ldo: Int, rows: Int, dim: Int, eps: Float) {
        sb_rms_norm(x, Int32(ldx), weight, out, Int32(ldo), Int32(rows), Int32(dim), eps)
    }

    /// Semantics: rotate pairs (i, i + headDim/2) of every head of row r by the angles of
    /// `positions[r]` (rotate-half RoPE, as transformers' Llama), in place.
    @inlinable
    public static func ropeRotateHalf(x: UnsafeMutablePointer<Float>, ld: Int, rows: Int, heads: Int, headDim: Int,
                                      positions: UnsafePointer<Int32>, table: RopeTable) {
        sb_rope_rotate_half(x, Int32(ld), Int32(rows), Int32(heads), Int32(headDim), positions,
                            table.cos.pointer, table.sin.pointer)
    }

    /// Semantics: `out = silu(gate) ⊙ up` row by row; gate and up share leading dimension `ldIn`.
    @inlinable
    public static func siluMul(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, ldIn: Int,
                               out: UnsafeMutablePointer<Float>, ldOut: Int, rows: Int, dim: Int) {
        sb_silu_mul(gate, up, Int32(ldIn), out, Int32(ldOut), Int32(rows), Int32(dim))
    }

    /// Semantics: `x += y` over `count` floats.
    @inlinable
    public static func addInPlace(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        sb_add_inplace(x, y, Int32(count))
    }

    /// Semantics: cache slot of position `firstPos + i` ← (k[i], v[i]) for i < n.
    @inlinable
    public static func storeKV(k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int, count n: Int,
                               firstPosition: Int, kCache: UnsafeMutablePointer<Float>, vCache: UnsafeMutablePointer<Float>,
                               blockTable: UnsafePointer<Int32>, blockSize: Int, kvDim: Int) {
        sb_kv_store(k, Int32(ldk), v, Int32(ldv), Int32(n), Int32(firstPosition), kCache, vCache,
                    blockTable, Int32(blockSize), Int32(kvDim))
    }

    /// Semantics: for query row i (position firstPos + i) and head h,
    /// `out[i, h] = softmax(q[i, h] · K[0...firstPos+i, h/group]ᵀ · scale) · V[0...firstPos+i, h/group]`,
    /// K and V read from the paged cache through `blockTable`. `scores` needs 8 × (firstPos + nQuery) floats.
    @inlinable
    public static func attention(q: UnsafePointer<Float>, ldq: Int, queries nQuery: Int, firstPosition: Int,
                                 kCache: UnsafePointer<Float>, vCache: UnsafePointer<Float>,
                                 blockTable: UnsafePointer<Int32>, blockSize: Int,
                                 heads: Int, kvHeads: Int, headDim: Int, scale: Float,
                                 out: UnsafeMutablePointer<Float>, ldo: Int, scores: UnsafeMutablePointer<Float>) {
        sb_attention_paged(q, Int32(ldq), Int32(nQuery), Int32(firstPosition), kCache, vCache, blockTable,
                           Int32(blockSize), Int32(heads), Int32(kvHeads), Int32(headDim), scale,
                           out, Int32(ldo), scores)
    }

    /// Semantics: `attention` for every chunk of a step (rows of chunk c start at
    /// chunks[c].firstRow in q and out), split across the kernel thread pool.
    @inlinable
    public static func attentionStep(q: UnsafePointer<Float>, ldq: Int, chunks: UnsafeBufferPointer<AttentionChunk>,
                                     kCache: UnsafePointer<Float>, vCache: UnsafePointer<Float>, blockSize: Int,
                                     heads: Int, kvHeads: Int, headDim: Int, scale: Float,
                                     out: UnsafeMutablePointer<Float>, ldo: Int) {
        sb_attention_step(q, Int32(ldq), chunks.baseAddress, Int32(chunks.count), kCache, vCache, Int32(blockSize),
                          Int32(heads), Int32(kvHeads), Int32(headDim), scale, out, Int32(ldo))
    }

    /// Semantics: the sum (mod 2⁶⁴) of every region's little-endian 8-byte words, plus the last
    /// bytes of a region whose size is not a multiple of 8, one by one; each region is read once,
    /// the regions shared out over the kernel pool. How fast the machine streams those bytes is
    /// the yardstick `switchboard bench` holds the LoRA kernel to.
    public static func streamRead(_ regions: [UnsafeRawBufferPointer]) -> UInt64 {
        let starts = regions.map { $0.baseAddress }
        let sizes = regions.map { Int64($0.count) }
        return starts.withUnsafeBufferPointer { starts in
            sizes.withUnsafeBufferPointer { sizes in
                sb_stream_read(starts.baseAddress, sizes.baseAddress, Int32(regions.count))
            }
        }
    }
}
