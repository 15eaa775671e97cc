import Foundation
import Kernels
import ModelFormats

/// Logits of the rows that asked for them, in chunk order. Valid until the next `forward`.
public struct LogitsView {
    /// [rows, vocabularySize].
    public let pointer: UnsafePointer<Float>
    public let rows: Int
    public let vocabularySize: Int

    /// Row i's logits.
    public func row(_ i: Int) -> UnsafeBufferPointer<Float> {
        precondition(i >= 0 && i < rows)
        return UnsafeBufferPointer(start: pointer + i * vocabularySize, count: vocabularySize)
    }
}

/// A loaded Llama model: configuration, weights and the batched forward pass.
/// `forward` reuses one set of scratch buffers; a lock keeps concurrent callers (tests, a
/// second engine) from sharing them, though a server drives the model from one thread.
public final class LlamaModel: @unchecked Sendable {
    public let config: LlamaConfig
    public let weights: LlamaWeights
    public let rope: RopeTable
    private let scratch = ForwardScratch()
    private let forwardLock = NSLock()

    /// Wraps already-loaded weights.
    public init(config: LlamaConfig, weights: LlamaWeights) {
        self.config = config
        self.weights = weights
        rope = RopeTable(headDim: config.headDim, theta: config.ropeTheta, scaling: config.ropeScaling,
                         maxPositions: config.contextLength)
    }

    /// Loads a model from a .gguf file or a Hugging Face directory (config.json + safetensors).
    public static func load(path: String) throws -> LlamaModel {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw LlamaError.notAModel(path: path)
        }
        if isDirectory.boolValue {
            let hf = try HFConfig.load(directory: path)
            let name = URL(fileURLWithPath: path).lastPathComponent
            let config = try LlamaConfig(hf: hf, name: name, source: path + "/config.json")
            let source = try SafetensorsCheckpoint(directory: path)
            let weights = try WeightLoader(source: source, naming: .huggingFace, config: config).loadAll()
            return LlamaModel(config: config, weights: weights)
        }
        let gguf = try GGUFFile(path: path)
        let config = try LlamaConfig(gguf: gguf)
        let weights = try WeightLoader(source: gguf, naming: .gguf, config: config).loadAll()
        return LlamaModel(config: config, weights: weights)
    }

    /// Runs one step over all `chunks` (prefill chunks and decode tokens of many sequences) and
    /// returns the logits of the rows their `logitRows` ask for, chunk by chunk.
    ///
    /// Every projection is one product over all rows of the step (`Projection.apply`); attention
    /// runs per chunk against that sequence's own cache blocks, after the step's keys and values
    /// are written to `cache`. Token ids and block tables must be valid (callers check input:
    /// `Generator.add` rejects bad prompts with a typed error).
    public func forward(_ chunks: [ForwardChunk], cache: PagedKVCache) -> LogitsView {
        forwardLock.lock()
        defer { forwardLock.unlock() }
        let c = config
        let rowCount = chunks.reduce(0) { $0 + $1.tokens.count }
        let logitCount = chunks.reduce(0) { $0 + $1.logitRowCount }
        let longest = chunks.map { $0.firstPosition + $0.tokens.count }.max() ?? 0
        precondition(longest <= c.contextLength, "sequence longer than the model's context")
        let s = scratch
        s.ensure(rows: rowCount, logitRows: logitCount, config: c)

        // Embeddings and positions, row by row.
        s.positions.removeAll(keepingCapacity: true)
        var row = 0
        for chunk in chunks {
            precondition(chunk.blockTable.count * cache.blockSize >= chunk.firstPosition + chunk.tokens.count,
                         "block table too short for the chunk")
            for (i, token) in chunk.tokens.enumerated() {
                precondition(token >= 0 && Int(token) < c.vocabularySize, "token id out of range")
                (s.x.pointer + row * c.hiddenSize).update(
                    from: weights.tokenEmbedding.pointer + Int(token) * c.hiddenSize, count: c.hiddenSize)
                s.positions.append(Int32(chunk.firstPosition + i))
                row += 1
            }
        }

        // Block tables packed once per step, shared by the KV stores and attention of every layer.
        s.layOut(chunks)

        let hidden = c.hiddenSize, qkvWidth = c.queryDim + 2 * c.kvDim
        let attentionScale = 1 / Float(c.headDim).squareRoot()
        for (l, w) in weights.layers.enumerated() {
            // Attention block: x += o(attention(rope(q), rope(k), v)) with q, k, v from norm(x).
            Ops.rmsNorm(x: s.x.pointer, ldx: hidden, weight: w.attentionNorm.pointer, out: s.xb.pointer, ldo: hidden,
                        rows: rowCount, dim: hidden, eps: c.rmsNormEpsilon)
            w.qkv.apply(rows: rowCount, x: s.xb.pointer, ldx: hidden, y: s.qkv.pointer, ldy: qkvWidth)
            s.positions.withUnsafeBufferPointer { positions in
                Ops.ropeRotateHalf(x: s.qkv.pointer, ld: qkvWidth, rows: rowCount, heads: c.headCount,
                                   headDim: c.headDim, positions: positions.baseAddress!, table: rope)
                Ops.ropeRotateHalf(x: s.qkv.pointer + c.queryDim, ld: qkvWidth, rows: rowCount, heads: c.kvHeadCount,
                                   headDim: c.headDim, positions: positions.baseAddress!, table: rope)
            }
            // Keys and values of this step's tokens into the cache, then attention for every chunk at once.
            for chunk in s.attentionChunks {
                let k = s.qkv.pointer + Int(chunk.firstRow) * qkvWidth + c.queryDim
                Ops.storeKV(k: k, ldk: qkvWidth, v: k + c.kvDim, ldv: qkvWidth, count: Int(chunk.queries),
                            firstPosition: Int(chunk.firstPosition), kCache: cache.keys[l].pointer,
                            vCache: cache.values[l].pointer, blockTable: chunk.blockTable!,
                            blockSize: cache.blockSize, kvDim: c.kvDim)
            }
            s.attentionChunks.withUnsafeBufferPointer { attentionChunks in
                Ops.attentionStep(q: s.qkv.pointer, ldq: qkvWidth, chunks: attentionChunks,
                                  kCache: cache.keys[l].pointer, vCache: cache.values[l].pointer,
                                  blockSize: cache.blockSize, heads: c.headCount, kvHeads: c.kvHeadCount,
                                  headDim: c.headDim, scale: attentionScale, out: s.attention.pointer, ldo: c.queryDim)
            }
            w.output.apply(rows: rowCount, x: s.attention.pointer, ldx: c.queryDim, y: s.x.pointer, ldy: hidden,
                           accumulate: true)

            // Feed-forward block: x += down(silu(gate(norm(x))) ⊙ up(norm(x))).
            let inter = c.intermediateSize
            Ops.rmsNorm(x: s.x.pointer, ldx: hidden, weight: w.feedForwardNorm.pointer, out: s.xb.pointer, ldo: hidden,
                        rows: rowCount, dim: hidden, eps: c.rmsNormEpsilon)
            w.gateUp.apply(rows: rowCount, x: s.xb.pointer, ldx: hidden, y: s.gateUp.pointer, ldy: 2 * inter)
            Ops.siluMul(gate: s.gateUp.pointer, up: s.gateUp.pointer + inter, ldIn: 2 * inter,
                        out: s.hidden.pointer, ldOut: inter, rows: rowCount, dim: inter)
            w.down.apply(rows: rowCount, x: s.hidden.pointer, ldx: inter, y: s.x.pointer, ldy: hidden, accumulate: true)
        }

        // Final norm and output head only for rows that sample.
        var out = 0
        row = 0
        for chunk in chunks {
            let n = chunk.tokens.count
            let start: Int
            switch chunk.logitRows {
            case .none: start = n
            case .last: start = n - 1
            case .all: start = 0
            }
            for r in max(start, 0)..<n {
                Ops.rmsNorm(x: s.x.pointer + (row + r) * hidden, ldx: hidden, weight: weights.outputNorm.pointer,
                            out: s.logitInput.pointer + out * hidden, ldo: hidden, rows: 1, dim: hidden,
                            eps: c.rmsNormEpsilon)
                out += 1
            }
            row += n
        }
        weights.outputHead.apply(rows: logitCount, x: s.logitInput.pointer, ldx: hidden, y: s.logits.pointer,
                                 ldy: c.vocabularySize)
        return LogitsView(pointer: UnsafePointer(s.logits.pointer), rows: logitCount, vocabularySize: c.vocabularySize)
    }
}
