import CKernels
import COpenBLAS

/// Matrix products. The only Swift file that calls BLAS.
///
/// `xwt` splits each product by output columns across the kernel thread pool, each slice a
/// single-threaded OpenBLAS call: with OpenBLAS's own threads also running, the two pools
/// spin against each other on a 2-core machine and lose a fifth of the time to scheduling.
public enum Gemm {
    /// Turns OpenBLAS's threading off once; the kernel pool parallelizes instead.
    @usableFromInline
    static let singleThreadedBLAS: Void = { openblas_set_num_threads(1) }()

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
        _ = singleThreadedBLAS
        sb_sgemm_xwt(Int32(rows), Int32(inFeatures), Int32(outFeatures), x, Int32(ldx), w, Int32(ldw),
                     y, Int32(ldy), scale, accumulate ? 1 : 0)
    }

    /// Threads the kernel pool runs products on (the machine's cores).
    public static var threadCount: Int {
        _ = singleThreadedBLAS
        let n = Int(sb_thread_count())
        return n > 0 ? n : 1
    }
}
