import Adapters
import Kernels

/// Applies the step's adapter segments to the base projections' outputs (or inputs), unmerged.
///
/// For one projection over N rows, the forward pass computes the shared base product Y = X·Wᵀ
/// in one call, together with every segment's LoRA/DoRA tasks (planned here, run alongside the
/// base product by `Projection.apply`); then the IA³ scales. Per segment s of rows that run with
/// an adapter changing this module:
/// ```
///   LoRA : Y[s] += λ·scale · (X[s]·Aᵀ)·Bᵀ                     (shrink + expand, one kernel call for all segments)
///   DoRA : Y[s] = (1 + λ(g − 1)) ⊙ Y[s] + λ·scale · (X[s]·Aᵀ)·(g ⊙ B)ᵀ
///   IA³  : Y[s] ⊙= l (outputs), or X[s] ⊙= l before the base product (inputs of feed-forward modules)
/// ```
/// λ is the request's delta multiplier (1 reproduces PEFT exactly). Stacked projections (q|k|v,
/// gate|up) share one input, so an IA³ input scale on them is added as a correction
/// Y[s] += (X[s] ⊙ (l − 1))·Wᵀ on that module's columns instead. Engine-thread only.
final class AdapterApplication {
    /// The planned LoRA/DoRA tasks of one projection (stable storage, handed to the base product,
    /// which runs them).
    private var tasks = UnsafeMutablePointer<LowRank.Task>.allocate(capacity: 64)
    private var taskCapacity = 64
    private var taskCount = 0
    private var scaledInput = FloatBuffer(count: 0)

    deinit { tasks.deallocate() }

    /// Collects the LoRA/DoRA tasks of `segments` on a (possibly stacked) projection, for its base
    /// product to run alongside its own work. Valid until the next plan.
    /// `modules` lists each module stacked in the projection: its first column in the output.
    func planLowRank(layer: Int, modules: [StackedModule], segments: [SegmentDeltas]) -> UnsafeBufferPointer<LowRank.Task> {
        taskCount = 0
        for segment in segments where segment.hasModuleDeltas {
            for stacked in modules {
                let entry = segment.entry(layer: layer, module: stacked.module)
                if entry.kind == .lowRank { addTasks(segment: segment, entry: entry, yOffset: stacked.offset) }
            }
        }
        return UnsafeBufferPointer(start: tasks, count: taskCount)
    }

    /// IA³ deltas for `segments` on the output `y` of a projection (its base product and LoRA
    /// tasks done): output scales, and corrections for input scales on stacked projections.
    /// `sharedInput` is false for o and down, whose IA³ input scales `scaleInputs` already applied.
    /// (A segment has one adapter, so these rows are never a LoRA task's rows: order is free.)
    func applyIA3ToOutput(layer: Int, modules: [StackedModule], segments: [SegmentDeltas], sharedInput: Bool,
                          base: Projection, x: UnsafePointer<Float>, ldx: Int, y: UnsafeMutablePointer<Float>, ldy: Int) {
        for segment in segments where segment.hasModuleDeltas {
            for stacked in modules {
                let entry = segment.entry(layer: layer, module: stacked.module)
                switch entry.kind {
                case .ia3Input:
                    guard sharedInput else { break }
                    addInputScaleCorrection(segment: segment, vector: entry.vector!, base: base, rowOffset: stacked.offset,
                                            outFeatures: stacked.width,
                                            x: x, ldx: ldx, y: y + stacked.offset, ldy: ldy)
                case .ia3Output:
                    scaleColumns(rows: segment.rows, vector: entry.vector!, count: entry.vectorCount,
                                 y: y + stacked.offset, ldy: ldy)
                case .lowRank, .none:
                    break
                }
            }
        }
    }

    /// Scales the inputs of an unshared projection (o, down) in place, for segments whose
    /// adapter is an IA³ with this module among its feed-forward modules.
    func scaleInputs(layer: Int, module: ProjectionModule, segments: [SegmentDeltas],
                     x: UnsafeMutablePointer<Float>, ldx: Int) {
        for segment in segments {
            let entry = segment.entry(layer: layer, module: module)
            guard entry.kind == .ia3Input else { continue }
            scaleColumns(rows: segment.rows, vector: entry.vector!, count: entry.vectorCount, y: x, ldy: ldx)
        }
    }

    /// Whether some segment rescales this module's whole output (DoRA, IA³ on outputs): then
    /// the output cannot be accumulated straight into the residual stream.
    func rescalesOutput(layer: Int, module: ProjectionModule, segments: [SegmentDeltas]) -> Bool {
        segments.contains { segment in
            let entry = segment.entry(layer: layer, module: module)
            switch entry.kind {
            case .lowRank: return entry.gain != nil
            case .ia3Output: return true
            case .ia3Input, .none: return false
            }
        }
    }

    // MARK: - Pieces

    /// LoRA/DoRA tasks for one segment, split into blocks of a few rows so both cores share
    /// a segment that holds most of the step: 8 rows (the kernel's largest row group, which
    /// reads the factors once for all 8) when the segment has at least 16, else 4.
    private func addTasks(segment: SegmentDeltas, entry d: DeltaEntry, yOffset: Int) {
        let λ = segment.scale
        let rowsPerTask = segment.rows.count >= 16 ? 8 : 4
        var first = segment.rows.lowerBound
        while first < segment.rows.upperBound {
            let rows = min(rowsPerTask, segment.rows.upperBound - first)
            if taskCount == taskCapacity {
                let grown = UnsafeMutablePointer<LowRank.Task>.allocate(capacity: 2 * taskCapacity)
                grown.moveInitialize(from: tasks, count: taskCount)
                tasks.deallocate()
                tasks = grown
                taskCapacity *= 2
            }
            (tasks + taskCount).initialize(to: LowRank.task(
                firstRow: first, rows: rows, rank: d.rank, inFeatures: d.inFeatures, outFeatures: d.outFeatures,
                yOffset: yOffset, a: d.a!, bTransposed: d.bTransposed!, precision: d.precision, scale: λ * d.scale,
                gain: d.gain, gainWeight: λ))
            taskCount += 1
            first += rows
        }
    }

    /// y[s, 0..<outFeatures] += (x[s] ⊙ (l − 1)) · W[rowOffset..<rowOffset+outFeatures, :]ᵀ.
    private func addInputScaleCorrection(segment: SegmentDeltas, vector: UnsafePointer<Float>, base: Projection,
                                         rowOffset: Int, outFeatures: Int, x: UnsafePointer<Float>, ldx: Int,
                                         y: UnsafeMutablePointer<Float>, ldy: Int) {
        let inFeatures = base.inFeatures, rows = segment.rows.count
        if scaledInput.count < rows * inFeatures { scaledInput = FloatBuffer(count: rows * inFeatures) }
        for r in 0..<rows {
            let source = x + (segment.rows.lowerBound + r) * ldx, target = scaledInput.pointer + r * inFeatures
            for i in 0..<inFeatures { target[i] = source[i] * (vector[i] - 1) }
        }
        Gemm.xwt(rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, x: scaledInput.pointer, ldx: inFeatures,
                 w: base.dense.pointer + rowOffset * inFeatures, ldw: inFeatures,
                 y: y + segment.rows.lowerBound * ldy, ldy: ldy, accumulate: true)
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

/// A segment as the step's adapter loops read it: its rows, the request's delta multiplier and
/// its adapter's delta table, as plain values (the loops run once per segment per projection
/// per layer, so they avoid reference counting). Built each step from the `AdapterSegment`s,
/// which keep the adapters, and so the tables, alive for the step.
struct SegmentDeltas {
    let rows: Range<Int>
    /// Multiplies the LoRA/DoRA delta.
    let scale: Float
    let hasModuleDeltas: Bool
    private let table: UnsafePointer<DeltaEntry>
    private let tableCount: Int

    init(_ segment: AdapterSegment) {
        rows = segment.firstRow..<segment.firstRow + segment.rowCount
        scale = segment.use.scale
        hasModuleDeltas = segment.use.adapter.hasModuleDeltas
        table = segment.use.adapter.deltaTable
        tableCount = segment.use.adapter.deltaTableCount
    }

    /// The adapter's delta on `module` of `layer` (kind `.none` if it leaves it alone).
    @inline(__always)
    func entry(layer: Int, module: ProjectionModule) -> DeltaEntry {
        let index = layer * ProjectionModule.count + module.index
        return index < tableCount ? table[index] : .none
    }
}
