import Adapters
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
/// The weights are read-only. `forward(_:cache:scratch:)` runs with the caller's scratch (an
/// engine owns one); `forward(_:cache:)` uses a built-in scratch under a lock (tests, bench),
/// and its logits are valid only until the next such call.
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
        return forward(chunks, cache: cache, scratch: scratch)
    }

    /// `forward` with the caller's own scratch buffers: the logits stay valid until the caller's
    /// next step, whatever other callers of this model do meanwhile. Not thread-safe per scratch.
    public func forward(_ chunks: [ForwardChunk], cache: PagedKVCache, scratch s: ForwardScratch) -> LogitsView {
        let c = config
        let rowCount = chunks.reduce(0) { $0 + $1.tokens.count }
        let logitCount = chunks.reduce(0) { $0 + $1.logitRowCount }
        let longest = chunks.map { $0.firstPosition + $0.tokens.count }.max() ?? 0
        precondition(longest <= c.contextLength, "sequence longer than the model's context")
        s.ensure(rows: rowCount, logitRows: logitCount, config: c)

        // Embeddings and positions, row by row.
        s.positions.removeAll(keepingCapacity: true)
        var row = 0
        for chunk in chunks {
            precondition(chunk.blockTable.count * cache.blockSize >= chunk.firstPosition + chunk.tokens.count,
                         "block table too short for the chunk")
            // Prompt tuning: positions 0..<n of the sequence are the adapter's virtual tokens.
            let virtualTokens = chunk.adapter?.adapter.promptEmbeddings
            let virtualCount = chunk.adapter?.adapter.virtualTokenCount ?? 0
            for (i, token) in chunk.tokens.enumerated() {
                let position = chunk.firstPosition + i
                if let virtualTokens, position < virtualCount {
                    (s.x.pointer + row * c.hiddenSize).update(
                        from: virtualTokens.pointer + position * c.hiddenSize, count: c.hiddenSize)
                    s.positions.append(Int32(position))
                    row += 1
                    continue
                }
                precondition(token >= 0 && Int(token) < c.vocabularySize, "token id out of range")
                (s.x.pointer + row * c.hiddenSize).update(
                    from: weights.tokenEmbedding.pointer + Int(token) * c.hiddenSize, count: c.hiddenSize)
                s.positions.append(Int32(chunk.firstPosition + i))
                row += 1
            }
        }

        // Block tables packed once per step, shared by the KV stores and attention of every layer;
        // rows grouped into adapter segments.
        s.layOut(chunks)
        let segments = s.segmentDeltas, adapted = !segments.isEmpty
        // The scratch must not keep this step's adapters alive: an unloaded version is freed (and
        // its memory returned) when its last request ends, not at some later step.
        defer { s.clearSegments() }

        let hidden = c.hiddenSize, qkvWidth = c.queryDim + 2 * c.kvDim, inter = c.intermediateSize
        let qkvModules = [StackedModule(module: .q, offset: 0, width: c.queryDim),
                          StackedModule(module: .k, offset: c.queryDim, width: c.kvDim),
                          StackedModule(module: .v, offset: c.queryDim + c.kvDim, width: c.kvDim)]
        let gateUpModules = [StackedModule(module: .gate, offset: 0, width: inter),
                             StackedModule(module: .up, offset: inter, width: inter)]
        let attentionScale = 1 / Float(c.headDim).squareRoot()
        for (l, w) in weights.layers.enumerated() {
            // Attention block: x += o(attention(rope(q), rope(k), v)) with q, k, v from norm(x).
            Ops.rmsNorm(x: s.x.pointer, ldx: hidden, weight: w.attentionNorm.pointer, out: s.xb.pointer, ldo: hidden,
                        rows: rowCount, dim: hidden, eps: c.rmsNormEpsilon)
            if adapted {
                let lowRank = s.adapters.planLowRank(layer: l, modules: qkvModules, segments: segments)
                w.qkv.apply(rows: rowCount, x: s.xb.pointer, ldx: hidden, y: s.qkv.pointer, ldy: qkvWidth,
                            lowRank: lowRank, delta: s.lowRankDelta.pointer)
                s.adapters.applyIA3ToOutput(layer: l, modules: qkvModules, segments: segments, sharedInput: true,
                                            base: w.qkv, x: s.xb.pointer, ldx: hidden, y: s.qkv.pointer, ldy: qkvWidth)
            } else {
                w.qkv.apply(rows: rowCount, x: s.xb.pointer, ldx: hidden, y: s.qkv.pointer, ldy: qkvWidth)
            }
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
            project(w.output, module: .o, layer: l, rows: rowCount, input: s.attention.pointer, ldInput: c.queryDim,
                    intoResidual: s.x.pointer, segments: segments, scratch: s)

            // Feed-forward block: x += down(silu(gate(norm(x))) ⊙ up(norm(x))).
            Ops.rmsNorm(x: s.x.pointer, ldx: hidden, weight: w.feedForwardNorm.pointer, out: s.xb.pointer, ldo: hidden,
                        rows: rowCount, dim: hidden, eps: c.rmsNormEpsilon)
            if adapted {
                let lowRank = s.adapters.planLowRank(layer: l, modules: gateUpModules, segments: segments)
                w.gateUp.apply(rows: rowCount, x: s.xb.pointer, ldx: hidden, y: s.gateUp.pointer, ldy: 2 * inter,
                               lowRank: lowRank, delta: s.lowRankDelta.pointer)
                s.adapters.applyIA3ToOutput(layer: l, modules: gateUpModules, segments: segments, sharedInput: true,
                                            base: w.gateUp, x: s.xb.pointer, ldx: hidden, y: s.gateUp.pointer, ldy: 2 * inter)
            } else {
                w.gateUp.apply(rows: rowCount, x: s.xb.pointer, ldx: hidden, y: s.gateUp.pointer, ldy: 2 * inter)
            }
            Ops.siluMul(gate: s.gateUp.pointer, up: s.gateUp.pointer + inter, ldIn: 2 * inter,
                        out: s.hidden.pointer, ldOut: inter, rows: rowCount, dim: inter)
            project(w.down, module: .down, layer: l, rows: rowCount, input: s.hidden.pointer, ldInput: inter,
                    intoResidual: s.x.pointer, segments: segments, scratch: s)
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

    /// residual += input·Wᵀ with the segments' adapter deltas on this projection (o or down).
    /// When an adapter rescales the whole output (DoRA, IA³ on outputs) the product goes to a
    /// separate buffer first; otherwise base and LoRA products accumulate straight into the residual.
    private func project(_ projection: Projection, module: ProjectionModule, layer: Int, rows: Int,
                         input: UnsafeMutablePointer<Float>, ldInput: Int, intoResidual residual: UnsafeMutablePointer<Float>,
                         segments: [SegmentDeltas], scratch s: ForwardScratch) {
        let hidden = config.hiddenSize
        guard !segments.isEmpty else {
            projection.apply(rows: rows, x: input, ldx: ldInput, y: residual, ldy: hidden, accumulate: true)
            return
        }
        s.adapters.scaleInputs(layer: layer, module: module, segments: segments, x: input, ldx: ldInput)
        let modules = [StackedModule(module: module, offset: 0, width: hidden)]
        let lowRank = s.adapters.planLowRank(layer: layer, modules: modules, segments: segments)
        if s.adapters.rescalesOutput(layer: layer, module: module, segments: segments) {
            projection.apply(rows: rows, x: input, ldx: ldInput, y: s.projected.pointer, ldy: hidden,
                             lowRank: lowRank, delta: s.lowRankDelta.pointer)
            s.adapters.applyIA3ToOutput(layer: layer, modules: modules, segments: segments, sharedInput: false,
                                        base: projection, x: input, ldx: ldInput, y: s.projected.pointer, ldy: hidden)
            Ops.addInPlace(residual, s.projected.pointer, count: rows * hidden)
        } else {
            projection.apply(rows: rows, x: input, ldx: ldInput, y: residual, ldy: hidden, accumulate: true,
                             lowRank: lowRank, delta: s.lowRankDelta.pointer)
            s.adapters.applyIA3ToOutput(layer: layer, modules: modules, segments: segments, sharedInput: false,
                                        base: projection, x: input, ldx: ldInput, y: residual, ldy: hidden)
        }
    }

    /// Writes a prefix-tuning adapter's keys and values into cache slots 0..<n of a sequence
    /// (un-rotated, as PEFT hands them to attention); its real tokens then start at position n.
    public func writePrefix(of adapter: Adapter, blockTable: [Int32], cache: PagedKVCache) {
        guard let prefix = adapter.prefixKV else { return }
        let n = adapter.virtualTokenCount, kvDim = config.kvDim, width = config.layerCount * 2 * kvDim
        precondition(blockTable.count * cache.blockSize >= n, "block table too short for the prefix")
        blockTable.withUnsafeBufferPointer { table in
            for l in 0..<config.layerCount {
                let k = prefix.pointer + 2 * l * kvDim
                Ops.storeKV(k: k, ldk: width, v: k + kvDim, ldv: width, count: n, firstPosition: 0,
                            kCache: cache.keys[l].pointer, vCache: cache.values[l].pointer, blockTable: table.baseAddress!,
                            blockSize: cache.blockSize, kvDim: kvDim)
            }
        }
    }
}

extension LlamaModel: BaseWeights {
    /// Dense W of one projection, a row range of the stacked q|k|v or gate|up matrices.
    public func weight(layer: Int, module: ProjectionModule) -> UnsafePointer<Float> {
        let w = weights.layers[layer], c = config
        switch module {
        case .q: return UnsafePointer(w.qkv.dense.pointer)
        case .k: return UnsafePointer(w.qkv.dense.pointer + c.queryDim * c.hiddenSize)
        case .v: return UnsafePointer(w.qkv.dense.pointer + (c.queryDim + c.kvDim) * c.hiddenSize)
        case .o: return UnsafePointer(w.output.dense.pointer)
        case .gate: return UnsafePointer(w.gateUp.dense.pointer)
        case .up: return UnsafePointer(w.gateUp.dense.pointer + c.intermediateSize * c.hiddenSize)
        case .down: return UnsafePointer(w.down.dense.pointer)
        }
    }

    /// The model's shape as the adapter loader checks it.
    public var adapterShape: BaseModelShape {
        let c = config
        return BaseModelShape(names: [c.name], layerCount: c.layerCount, hiddenSize: c.hiddenSize,
                              intermediateSize: c.intermediateSize, headCount: c.headCount, kvHeadCount: c.kvHeadCount,
                              headDim: c.headDim, vocabularySize: c.vocabularySize)
    }
}
