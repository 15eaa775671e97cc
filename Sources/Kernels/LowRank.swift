import CKernels

/// The LoRA products of a step's adapter segments (see `sb_lowrank_apply`).
public enum LowRank {
    /// One (segment, module) product; mirrors the C struct field for field.
    public typealias Task = sb_lowrank_task

    /// Largest rank the kernel accepts.
    public static let maxRank = Int(SB_LOWRANK_MAX_RANK)

    /// Semantics, for each task and each of its rows r:
    /// `y[r, off..<off+out] = c ⊙ y[r, off..<off+out] + scale · (x[r, 0..<in] · Aᵀ) · Bᵀ`
    /// with c = 1 + gainWeight·(g − 1) for DoRA tasks (g = gain), else 1. Tasks run in parallel
    /// on the kernel pool and must write disjoint parts of `y`.
    public static func apply(_ tasks: UnsafeBufferPointer<Task>, x: UnsafePointer<Float>, ldx: Int,
                             y: UnsafeMutablePointer<Float>, ldy: Int) {
        guard let base = tasks.baseAddress, !tasks.isEmpty else { return }
        sb_lowrank_apply(base, Int32(tasks.count), x, Int32(ldx), y, Int32(ldy))
    }

    /// A task for rows [firstRow, firstRow + rows) writing columns [yOffset, yOffset + outFeatures).
    /// `a` and `bTransposed` hold values stored at `precision`.
    public static func task(firstRow: Int, rows: Int, rank: Int, inFeatures: Int, outFeatures: Int, yOffset: Int,
                            a: UnsafeRawPointer, bTransposed: UnsafeRawPointer, precision: FactorPrecision = .f32, scale: Float,
                            gain: UnsafePointer<Float>?, gainWeight: Float) -> Task {
        Task(first_row: Int32(firstRow), rows: Int32(rows), rank: Int32(rank), in_features: Int32(inFeatures),
             out_features: Int32(outFeatures), y_offset: Int32(yOffset), a: a, bt: bTransposed, storage: precision.kernelStorage,
             scale: scale, gain: gain, gain_weight: gainWeight)
    }
}
