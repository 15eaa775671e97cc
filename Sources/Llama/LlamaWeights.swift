import Kernels
import ModelFormats

/// One transformer block's weights, all dequantized to f32, rows in Hugging Face order.
public struct LayerWeights: Sendable {
    public let attentionNorm: FloatBuffer   // [hidden]
    /// q, k and v projections stacked: [queryDim + 2·kvDim, hidden], so one sgemm makes all three.
    public let qkv: Projection
    public let output: Projection           // o_proj [hidden, queryDim]
    public let feedForwardNorm: FloatBuffer // [hidden]
    /// gate and up projections stacked: [2·intermediate, hidden].
    public let gateUp: Projection
    public let down: Projection             // [hidden, intermediate]
}

/// All weights of a Llama model, read once at load.
public final class LlamaWeights: @unchecked Sendable {
    public let tokenEmbedding: FloatBuffer  // [vocab, hidden]
    public let layers: [LayerWeights]
    public let outputNorm: FloatBuffer      // [hidden]
    /// The output head [vocab, hidden]; its dense buffer is `tokenEmbedding` when tied.
    public let outputHead: Projection

    /// Total bytes of weight storage.
    public var byteCount: Int {
        var total = tokenEmbedding.byteCount + outputNorm.byteCount
        total += outputHead.dense !== tokenEmbedding ? outputHead.byteCount : (outputHead.quantized?.byteCount ?? 0)
        for l in layers {
            total += l.attentionNorm.byteCount + l.qkv.byteCount + l.output.byteCount
            total += l.feedForwardNorm.byteCount + l.gateUp.byteCount + l.down.byteCount
        }
        return total
    }

    init(tokenEmbedding: FloatBuffer, layers: [LayerWeights], outputNorm: FloatBuffer, outputHead: Projection) {
        self.tokenEmbedding = tokenEmbedding
        self.layers = layers
        self.outputNorm = outputNorm
        self.outputHead = outputHead
    }
}

/// How a checkpoint names Llama tensors, and whether its q/k rows need un-permuting.
enum TensorNaming {
    /// llama.cpp names; q/k rows interleaved for adjacent-pair RoPE.
    case gguf
    /// Hugging Face names (`model.layers.N.self_attn.q_proj.weight`).
    case huggingFace

    func embedding() -> String { self == .gguf ? "token_embd.weight" : "model.embed_tokens.weight" }
    func outputNorm() -> String { self == .gguf ? "output_norm.weight" : "model.norm.weight" }
    func outputHead() -> String { self == .gguf ? "output.weight" : "lm_head.weight" }

    /// Name of `module` (HF module names: q_proj, k_proj, …, input_layernorm, post_attention_layernorm) in layer `l`.
    func layer(_ l: Int, _ module: String) -> String {
        switch self {
        case .huggingFace:
            let group = ["q_proj", "k_proj", "v_proj", "o_proj"].contains(module) ? "self_attn."
                : ["gate_proj", "up_proj", "down_proj"].contains(module) ? "mlp." : ""
            return "model.layers.\(l).\(group)\(module).weight"
        case .gguf:
            let names = ["q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
                         "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down",
                         "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"]
            return "blk.\(l).\(names[module]!).weight"
        }
    }
}

/// Reads and checks every tensor of a model into `LlamaWeights`.
struct WeightLoader {
    let source: any TensorSource
    let naming: TensorNaming
    let config: LlamaConfig

    /// A tensor as f32, after checking its shape.
    func load(_ name: String, shape: [Int]) throws -> [Float] {
        guard let info = source.tensorInfos[name] else { throw LlamaError.missingTensor(source: source.path, tensor: name) }
        // A 1-D tensor may be stored as [n] or [1, n]; compare element layout, not rank, for those.
        let matches = info.shape == shape || (shape.count == 1 && info.shape.reduce(1, *) == shape[0] && info.shape.last == shape[0])
        guard matches else { throw LlamaError.wrongShape(source: source.path, tensor: name, expected: shape, found: info.shape) }
        return try source.floats(name)
    }

    /// HF row i of a q or k projection is GGUF row order[i]: llama.cpp interleaves each head's
    /// rows for adjacent-pair RoPE (GGUF row 2j+p holds HF row (headDim/2)·p + j).
    func hfRowOrder(heads: Int) -> [Int]? {
        guard naming == .gguf else { return nil }
        let half = config.headDim / 2
        var order = [Int](repeating: 0, count: heads * config.headDim)
        for h in 0..<heads {
            for p in 0..<2 {
                for j in 0..<half { order[h * config.headDim + half * p + j] = h * config.headDim + 2 * j + p }
            }
        }
        return order
    }

    /// A q or k projection in HF row order.
    func loadRotary(_ module: String, layer: Int, heads: Int) throws -> [Float] {
        let rows = heads * config.headDim
        let stored = try load(naming.layer(layer, module), shape: [rows, config.hiddenSize])
        guard let order = hfRowOrder(heads: heads) else { return stored }
        let width = config.hiddenSize
        var hf = stored
        for (hfRow, storedRow) in order.enumerated() {
            hf.replaceSubrange(hfRow * width..<(hfRow + 1) * width, with: stored[storedRow * width..<(storedRow + 1) * width])
        }
        return hf
    }

    /// The stored blocks of `names` stacked into one quantized matrix, when all share a type
    /// the small-batch kernels read; nil otherwise (that projection then always uses f32).
    func quantized(_ names: [String], rowOrders: [[Int]?]) throws -> QuantizedMatrix? {
        let infos = try names.map { name -> TensorInfo in
            guard let info = source.tensorInfos[name] else { throw LlamaError.missingTensor(source: source.path, tensor: name) }
            return info
        }
        guard let type = infos.first?.type, infos.allSatisfy({ $0.type == type && $0.shape.count == 2 }),
              QuantizedMatrix.supports(type, columns: infos[0].shape[1]) else { return nil }
        let parts = try zip(zip(names, infos), rowOrders).map { pair, order in
            (bytes: try source.rawBytes(pair.0), rows: pair.1.shape[0], rowOrder: order)
        }
        return QuantizedMatrix(type: type, columns: infos[0].shape[1], parts: parts)
    }

    /// Stacked projections `modules` of layer `l` (row blocks in the given order).
    func projection(_ dense: [Float], modules: [String], layer l: Int, rowOrders: [[Int]?], inFeatures: Int) throws -> Projection {
        let names = modules.map { naming.layer(l, $0) }
        return Projection(dense: FloatBuffer(dense), quantized: try quantized(names, rowOrders: rowOrders),
                          outFeatures: dense.count / inFeatures, inFeatures: inFeatures)
    }

    func loadAll() throws -> LlamaWeights {
        let c = config
        let embedding = FloatBuffer(try load(naming.embedding(), shape: [c.vocabularySize, c.hiddenSize]))
        var layers: [LayerWeights] = []
        for l in 0..<c.layerCount {
            let q = try loadRotary("q_proj", layer: l, heads: c.headCount)
            let k = try loadRotary("k_proj", layer: l, heads: c.kvHeadCount)
            let v = try load(naming.layer(l, "v_proj"), shape: [c.kvDim, c.hiddenSize])
            let o = try load(naming.layer(l, "o_proj"), shape: [c.hiddenSize, c.queryDim])
            let gate = try load(naming.layer(l, "gate_proj"), shape: [c.intermediateSize, c.hiddenSize])
            let up = try load(naming.layer(l, "up_proj"), shape: [c.intermediateSize, c.hiddenSize])
            let down = try load(naming.layer(l, "down_proj"), shape: [c.hiddenSize, c.intermediateSize])
            layers.append(LayerWeights(
                attentionNorm: FloatBuffer(try load(naming.layer(l, "input_layernorm"), shape: [c.hiddenSize])),
                qkv: try projection(q + k + v, modules: ["q_proj", "k_proj", "v_proj"], layer: l,
                                    rowOrders: [hfRowOrder(heads: c.headCount), hfRowOrder(heads: c.kvHeadCount), nil],
                                    inFeatures: c.hiddenSize),
                output: try projection(o, modules: ["o_proj"], layer: l, rowOrders: [nil], inFeatures: c.queryDim),
                feedForwardNorm: FloatBuffer(try load(naming.layer(l, "post_attention_layernorm"), shape: [c.hiddenSize])),
                gateUp: try projection(gate + up, modules: ["gate_proj", "up_proj"], layer: l, rowOrders: [nil, nil],
                                       inFeatures: c.hiddenSize),
                down: try projection(down, modules: ["down_proj"], layer: l, rowOrders: [nil], inFeatures: c.intermediateSize)))
        }
        let norm = FloatBuffer(try load(naming.outputNorm(), shape: [c.hiddenSize]))
        let headName = c.tiedEmbeddings ? naming.embedding() : naming.outputHead()
        let headDense = c.tiedEmbeddings ? embedding : FloatBuffer(try load(headName, shape: [c.vocabularySize, c.hiddenSize]))
        let head = Projection(dense: headDense, quantized: try quantized([headName], rowOrders: [nil]),
                              outFeatures: c.vocabularySize, inFeatures: c.hiddenSize)
        return LlamaWeights(tokenEmbedding: embedding, layers: layers, outputNorm: norm, outputHead: head)
    }
}
