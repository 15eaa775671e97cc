import Kernels

/// Activation buffers of one forward step, sized for `rows` rows and grown on demand.
/// Allocated outside the hot loop; reused from step to step.
final class ForwardScratch {
    private(set) var rows = 0
    private(set) var logitRows = 0
    var x = FloatBuffer(count: 0)        // [rows, hidden] residual stream
    var xb = FloatBuffer(count: 0)       // [rows, hidden] normed input of a block
    var qkv = FloatBuffer(count: 0)      // [rows, queryDim + 2·kvDim]
    var attention = FloatBuffer(count: 0) // [rows, queryDim]
    var gateUp = FloatBuffer(count: 0)   // [rows, 2·intermediate]
    var hidden = FloatBuffer(count: 0)   // [rows, intermediate]
    var logitInput = FloatBuffer(count: 0) // [logitRows, hidden]
    var logits = FloatBuffer(count: 0)   // [logitRows, vocab]
    var positions: [Int32] = []
    /// Every chunk's block table, back to back, so attention gets stable pointers for the step.
    var blockTables: [Int32] = []
    /// Where each chunk's rows and block table start.
    var attentionChunks: [AttentionChunk] = []

    func ensure(rows needed: Int, logitRows neededLogits: Int, config c: LlamaConfig) {
        if needed > rows {
            rows = max(needed, rows * 2)
            x = FloatBuffer(count: rows * c.hiddenSize)
            xb = FloatBuffer(count: rows * c.hiddenSize)
            qkv = FloatBuffer(count: rows * (c.queryDim + 2 * c.kvDim))
            attention = FloatBuffer(count: rows * c.queryDim)
            gateUp = FloatBuffer(count: rows * 2 * c.intermediateSize)
            hidden = FloatBuffer(count: rows * c.intermediateSize)
        }
        if neededLogits > logitRows {
            logitRows = max(neededLogits, logitRows * 2)
            logitInput = FloatBuffer(count: logitRows * c.hiddenSize)
            logits = FloatBuffer(count: logitRows * c.vocabularySize)
        }
    }
}
