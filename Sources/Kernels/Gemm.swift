import COpenBLAS

/// Matrix products. The only file that calls BLAS.
public enum Gemm {
    /// Semantics: `y[m, n] = x[m, :] · w[n, :]ᵀ (+ y[m, n] if accumulate)` for m < rows, n < outFeatures.
    ///
    /// `x` is [rows, inFeatures] with leading dimension `ldx`; `w` is [outFeatures, inFeatures]
    /// (the `[out, in]` layout of every checkpoint) with leading dimension `ldw`; `y` is
    /// [rows, outFeatures] with leading dimension `ldy`. `scale` multiplies the product.
    @inlinable
    public static func xwt(
        rows: Int, inFeatures: Int, outFeatures: Int,
        x: UnsafePointer<Float>, ldx: Int,
        w: UnsafePointer<Float>, ldw: Int,
        y: UnsafeMutablePointer<Float>, ldy: Int,
        scale: Float = 1, accumulate: Bool = false
    ) {
        guard rows > 0, outFeatures > 0 else { return }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                    blasint(rows), blasint(outFeatures), blasint(inFeatures),
                    scale, x, blasint(ldx), w, blasint(ldw),
                    accumulate ? 1 : 0, y, blasint(ldy))
    }

    /// Semantics: `y[m, n] = x[m, :] · w[:, n] (+ y)`: x is [rows, inner], w is [inner, outFeatures].
    @inlinable
    public static func xw(
        rows: Int, inner: Int, outFeatures: Int,
        x: UnsafePointer<Float>, ldx: Int,
        w: UnsafePointer<Float>, ldw: Int,
        y: UnsafeMutablePointer<Float>, ldy: Int,
        scale: Float = 1, accumulate: Bool = false
    ) {
        guard rows > 0, outFeatures > 0 else { return }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                    blasint(rows), blasint(outFeatures), blasint(inner),
                    scale, x, blasint(ldx), w, blasint(ldw),
                    accumulate ? 1 : 0, y, blasint(ldy))
    }

    /// Number of threads OpenBLAS uses.
    public static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }
}
