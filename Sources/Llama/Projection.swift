import Kernels

/// One linear layer's weight W [outFeatures, inFeatures] and how to multiply by it.
///
/// Every projection of the model goes through `apply`: a few rows (decoding) read the GGUF's
/// quantized blocks directly when the model has them, since that step is bound by memory
/// traffic; more rows use one OpenBLAS sgemm on the dequantized f32 copy.
public struct Projection: Sendable {
    /// W dequantized, row-major [outFeatures, inFeatures].
    public let dense: FloatBuffer
    /// W in its GGUF block format (Q4_1 or Q8_0), when the checkpoint stores it so.
    public let quantized: QuantizedMatrix?
    public let outFeatures: Int
    public let inFeatures: Int

    /// Row counts at or below this take the quantized path. With AVX-512 the panel kernel beats
    /// OpenBLAS (whose AVX2 kernels run here) at every size, prefill included; with AVX2 only,
    /// OpenBLAS on f32 wins above ~96 rows, where the weights are reused across enough rows.
    nonisolated(unsafe) public static var quantizedRowLimit = QuantizedMatrix.usesAVX512 ? Int.max : 96

    init(dense: FloatBuffer, quantized: QuantizedMatrix?, outFeatures: Int, inFeatures: Int) {
        precondition(dense.count == outFeatures * inFeatures)
        precondition(quantized.map { $0.rows == outFeatures && $0.columns == inFeatures } ?? true)
        self.dense = dense
        self.quantized = quantized
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
    }

    /// Semantics: `y[r, :] = x[r, :] · Wᵀ` (+ y when accumulate) for r < rows.
    @inline(__always)
    public func apply(rows: Int, x: UnsafePointer<Float>, ldx: Int, y: UnsafeMutablePointer<Float>, ldy: Int,
                      accumulate: Bool = false) {
        if let q = quantized, rows <= Self.quantizedRowLimit {
            q.xwt(batchRows: rows, x: x, ldx: ldx, y: y, ldy: ldy, accumulate: accumulate)
        } else {
            Gemm.xwt(rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, x: x, ldx: ldx,
                     w: dense.pointer, ldw: inFeatures, y: y, ldy: ldy, accumulate: accumulate)
        }
    }

    /// `apply`, then the LoRA/DoRA tasks (`LowRank.apply`) on its output, which read the same x.
    /// The quantized panel product runs them alongside its own work (same bits as in sequence);
    /// `delta` is scratch for that, laid out like y.
    public func apply(rows: Int, x: UnsafePointer<Float>, ldx: Int, y: UnsafeMutablePointer<Float>, ldy: Int,
                      accumulate: Bool = false, lowRank: UnsafeBufferPointer<LowRank.Task>,
                      delta: UnsafeMutablePointer<Float>) {
        if let q = quantized, rows <= Self.quantizedRowLimit {
            q.xwt(batchRows: rows, x: x, ldx: ldx, y: y, ldy: ldy, accumulate: accumulate, lowRank: lowRank, delta: delta)
        } else {
            apply(rows: rows, x: x, ldx: ldx, y: y, ldy: ldy, accumulate: accumulate)
            LowRank.apply(lowRank, x: x, ldx: ldx, y: y, ldy: ldy)
        }
    }

    /// Bytes held (dense and quantized).
    public var byteCount: Int { dense.byteCount + (quantized?.byteCount ?? 0) }
}
