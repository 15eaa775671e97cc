import Adapters
import Kernels

/// Applies the step's adapter segments to the base projections' outputs (or inputs), unmerged.
///
/// For one projection over N rows, the forward pass first computes the shared base product
/// Y = X·Wᵀ in one call; then, per segment s of rows that run with an adapter changing this module:
/// ```
///   LoRA : Y[s] += λ·scale · (X[s]·Aᵀ)·Bᵀ                     (shrink + expand, one kernel call for all segments)
///   DoRA : Y[s] = (1 + λ(g − 1)) ⊙ Y[s] + λ·scale · (X[s]·Aᵀ)·(g ⊙ B)ᵀ
///   IA³  : Y[s] ⊙= l (outputs), or X[s] ⊙= l before the base product (inputs of feed-forward modules)
/// ```
/// λ is the request's delta multiplier (1 reproduces PEFT exactly). Stacked projections (q|k|v,
/// gate|up) share one input, so an IA³ input scale on them is added as a correction
/// Y[s] += (X[s] ⊙ (l − 1))·Wᵀ on that module's columns instead. Engine-thread only.
final class AdapterApplication {
    private var tasks: [LowRank.Task] = []
    private var scaledInput = FloatBuffer(count: 0)

    /// Module deltas for `segments`, on the output `y` of a (possibly stacked) projection.
    /// `modules` lists each module stacked in `base`: its first column in `y` (= its first row in W).
    /// `sharedInput` is false for o and down, whose IA³ input scales `scaleInputs` already applied.
    func applyToOutput(layer: Int, modules: [StackedModule], segments: [AdapterSegment], sharedInput: Bool,
                       base: Projection, x: UnsafePointer<Float>, ldx: Int, y: UnsafeMutablePointer<Float>, ldy: Int) {
        tasks.removeAll(keepingCapacity: true)
        for segment in segments where segment.use.adapter.hasModuleDeltas {
            for stacked in modules {
                let offset = stacked.offset
                switch segment.use.adapter.delta(layer: layer, module: stacked.module) {
                case .lowRank(let d)?:
                    addTasks(segment: segment, delta: d, yOffset: offset)
                case .ia3(let s)? where s.scalesInput:
                    guard sharedInput else { break }
                    addInputScaleCorrection(segment: segment, vector: s.vector, base: base, rowOffset: offset,
                                            outFeatures: stacked.width,
                                            x: x, ldx: ldx, y: y + offset, ldy: ldy)
                case .ia3(let s)?:
                    scaleColumns(rows: segment.firstRow..<segment.firstRow + segment.rowCount, vector: s.vector.pointer,
                                 count: s.vector.count, y: y + offset, ldy: ldy)
                case nil:
                    break
                }
            }
        }
        tasks.withUnsafeBufferPointer { LowRank.apply($0, x: x, ldx: ldx, y: y, ldy: ldy) }
    }

    /// Scales the inputs of an unshared projection (o, down) in place, for segments whose
    /// adapter is an IA³ with this module among its feed-forward modules.
    func scaleInputs(layer: Int, module: ProjectionModule, segments: [AdapterSegment],
                     x: UnsafeMutablePointer<Float>, ldx: Int) {
        for segment in segments {
            guard case .ia3(let s)? = segment.use.adapter.delta(layer: layer, module: module), s.scalesInput else { continue }
            scaleColumns(rows: segment.firstRow..<segment.firstRow + segment.rowCount, vector: s.vector.pointer,
                         count: s.vector.count, y: x, ldy: ldx)
        }
    }

    /// Whether some segment rescales this module's whole output (DoRA, IA³ on outputs): then
    /// the output cannot be accumulated straight into the residual stream.
    func rescalesOutput(layer: Int, module: ProjectionModule, segments: [AdapterSegment]) -> Bool {
        segments.contains { segment in
            switch segment.use.adapter.delta(layer: layer, module: module) {
            case .lowRank(let d)?: return d.doraGain != nil
            case .ia3(let s)?: return !s.scalesInput
            case nil: return false
            }
        }
    }

    // MARK: - Pieces

    /// LoRA/DoRA tasks for one segment, split into blocks of a few rows so both cores share
    /// a segment that holds most of the step.
    private func addTasks(segment: AdapterSegment, delta d: LowRankDelta, yOffset: Int) {
        let λ = segment.use.scale
        let rowsPerTask = 4
        var first = segment.firstRow
        let end = segment.firstRow + segment.rowCount
        while first < end {
            let rows = min(rowsPerTask, end - first)
            tasks.append(LowRank.task(firstRow: first, rows: rows, rank: d.rank, inFeatures: d.inFeatures,
                                      outFeatures: d.outFeatures, yOffset: yOffset, a: d.a.pointer,
                                      bTransposed: d.bTransposed.pointer, half: d.a.isHalf, scale: λ * d.scale,
                                      gain: d.doraGain.map { UnsafePointer($0.pointer) }, gainWeight: λ))
            first += rows
        }
    }

    /// y[s, 0..<outFeatures] += (x[s] ⊙ (l − 1)) · W[rowOffset..<rowOffset+outFeatures, :]ᵀ.
    private func addInputScaleCorrection(segment: AdapterSegment, vector: FloatBuffer, base: Projection, rowOffset: Int,
                                         outFeatures: Int, x: UnsafePointer<Float>, ldx: Int,
                                         y: UnsafeMutablePointer<Float>, ldy: Int) {
        let inFeatures = base.inFeatures, rows = segment.rowCount
        if scaledInput.count < rows * inFeatures { scaledInput = FloatBuffer(count: rows * inFeatures) }
        for r in 0..<rows {
            let source = x + (segment.firstRow + r) * ldx, target = scaledInput.pointer + r * inFeatures
            for i in 0..<inFeatures { target[i] = source[i] * (vector.pointer[i] - 1) }
        }
        Gemm.xwt(rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, x: scaledInput.pointer, ldx: inFeatures,
                 w: base.dense.pointer + rowOffset * inFeatures, ldw: inFeatures,
                 y: y + segment.firstRow * ldy, ldy: ldy, accumulate: true)
    }

    /// y[r, j] *= vector[j] for r in rows, j < count.
    private func scaleColumns(rows: Range<Int>, vector: UnsafePointer<Float>, count: Int,
                              y: UnsafeMutablePointer<Float>, ldy: Int) {
        for r in rows {
            let row = y + r * ldy
            for j in 0..<count { row[j] *= vector[j] }
        }
    }
}

/// One module inside a stacked projection: its first output column (= first row of W) and width.
struct StackedModule {
    let module: ProjectionModule
    let offset: Int
    let width: Int
}
