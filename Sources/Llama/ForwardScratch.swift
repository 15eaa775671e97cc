import Adapters
import Kernels

/// Activation buffers of one forward step, sized for `rows` rows and grown on demand.
/// Allocated outside the hot loop; reused from step to step. The run state of one caller: the
/// model itself is read-only and may serve several engines, each with its own scratch.
public final class ForwardScratch {
    private(set) var rows = 0
    private(set) var logitRows = 0
    var x = FloatBuffer(count: 0)        // [rows, hidden] residual stream
    var xb = FloatBuffer(count: 0)       // [rows, hidden] normed input of a block
    var qkv = FloatBuffer(count: 0)      // [rows, queryDim + 2·kvDim]
    var attention = FloatBuffer(count: 0) // [rows, queryDim]
    var gateUp = FloatBuffer(count: 0)   // [rows, 2·intermediate]
    var hidden = FloatBuffer(count: 0)   // [rows, intermediate]
    var projected = FloatBuffer(count: 0) // [rows, hidden] o/down output when an adapter rescales it
    var lowRankDelta = FloatBuffer(count: 0) // [rows, widest projection output] LoRA sums before they join y
    var logitInput = FloatBuffer(count: 0) // [logitRows, hidden]
    var logits = FloatBuffer(count: 0)   // [logitRows, vocab]
    var positions: [Int32] = []
    /// Every chunk's block table, back to back: stable pointers for the whole step.
    private(set) var blockTables = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private var blockTableCapacity = 1
    /// Each chunk's first row, size, first position and block table (pointing into `blockTables`).
    var attentionChunks: [AttentionChunk] = []
    /// Runs of consecutive rows with the same adapter (and scale).
    var segments: [AdapterSegment] = []
    /// The same segments as the adapter loops read them (valid while `segments` holds the adapters).
    var segmentDeltas: [SegmentDeltas] = []
    let adapters = AdapterApplication()

    /// Empty buffers; they grow to the first step's size.
    public init() {}

    deinit { blockTables.deallocate() }

    /// Packs the chunks' block tables, describes each chunk for attention and KV stores, and
    /// groups the rows into adapter segments.
    func layOut(_ chunks: [ForwardChunk]) {
        let needed = chunks.reduce(0) { $0 + $1.blockTable.count }
        if needed > blockTableCapacity {
            blockTables.deallocate()
            blockTableCapacity = max(needed, 2 * blockTableCapacity)
            blockTables = .allocate(capacity: blockTableCapacity)
        }
        attentionChunks.removeAll(keepingCapacity: true)
        var offset = 0, row = 0
        for chunk in chunks {
            let table = blockTables + offset
            chunk.blockTable.withUnsafeBufferPointer { if let base = $0.baseAddress { table.update(from: base, count: $0.count) } }
            attentionChunks.append(AttentionChunk(firstRow: Int32(row), queries: Int32(chunk.tokens.count),
                                                  firstPosition: Int32(chunk.firstPosition), blockTable: table))
            offset += chunk.blockTable.count
            row += chunk.tokens.count
        }
        segments.removeAll(keepingCapacity: true)
        row = 0
        for chunk in chunks {
            let n = chunk.tokens.count
            if let use = chunk.adapter, n > 0 {
                if let last = segments.last, last.use.sharesSegment(with: use), last.firstRow + last.rowCount == row {
                    segments[segments.count - 1] = AdapterSegment(firstRow: last.firstRow, rowCount: last.rowCount + n, use: use)
                } else {
                    segments.append(AdapterSegment(firstRow: row, rowCount: n, use: use))
                }
            }
            row += n
        }
        segmentDeltas.removeAll(keepingCapacity: true)
        for segment in segments { segmentDeltas.append(SegmentDeltas(segment)) }
    }

    /// Forgets the step's segments: the scratch must not keep adapters alive past their step.
    func clearSegments() {
        segmentDeltas.removeAll(keepingCapacity: true)
        segments.removeAll(keepingCapacity: true)
    }

    func ensure(rows needed: Int, logitRows neededLogits: Int, config c: LlamaConfig) {
        if needed > rows {
            rows = max(needed, rows * 2)
            x = FloatBuffer(count: rows * c.hiddenSize)
            xb = FloatBuffer(count: rows * c.hiddenSize)
            qkv = FloatBuffer(count: rows * (c.queryDim + 2 * c.kvDim))
            attention = FloatBuffer(count: rows * c.queryDim)
            gateUp = FloatBuffer(count: rows * 2 * c.intermediateSize)
            hidden = FloatBuffer(count: rows * c.intermediateSize)
            projected = FloatBuffer(count: rows * c.hiddenSize)
            lowRankDelta = FloatBuffer(count: rows * max(c.queryDim + 2 * c.kvDim, 2 * c.intermediateSize, c.hiddenSize))
        }
        if neededLogits > logitRows {
            logitRows = max(neededLogits, logitRows * 2)
            logitInput = FloatBuffer(count: logitRows * c.hiddenSize)
            logits = FloatBuffer(count: logitRows * c.vocabularySize)
        }
    }
}
