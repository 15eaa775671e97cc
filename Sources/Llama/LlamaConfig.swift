import Kernels
import ModelFormats

/// The shape of a Llama-family model: everything the forward pass needs to know
/// besides the weights. Built from GGUF metadata or from a Hugging Face config.json.
public struct LlamaConfig: Sendable, Equatable {
    /// Human-readable model name (GGUF general.name or the directory name).
    public var name: String
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var ropeTheta: Float
    public var ropeScaling: RopeScaling
    public var rmsNormEpsilon: Float
    /// Longest sequence (prompt + generated) the model supports.
    public var contextLength: Int
    /// The output head reuses the token embedding matrix.
    public var tiedEmbeddings: Bool

    /// Width of all query heads together.
    public var queryDim: Int { headCount * headDim }
    /// Width of all key (or value) heads together.
    public var kvDim: Int { kvHeadCount * headDim }

    /// Checks the invariants the kernels rely on.
    public func validate(source: String) throws {
        func require(_ ok: Bool, _ what: String) throws {
            if !ok { throw LlamaError.invalidConfig(source: source, reason: what) }
        }
        try require(vocabularySize > 0 && hiddenSize > 0 && intermediateSize > 0 && layerCount > 0, "sizes must be positive")
        try require(headCount > 0 && kvHeadCount > 0 && headCount % kvHeadCount == 0,
                    "head count \(headCount) must be a multiple of the KV head count \(kvHeadCount)")
        try require(headDim > 0 && headDim % 2 == 0, "head_dim \(headDim) must be even")
        try require(contextLength > 0 && contextLength <= 1 << 20, "context length \(contextLength) out of range")
        try require(ropeTheta > 0 && rmsNormEpsilon > 0, "rope theta and rms eps must be positive")
    }
}

extension LlamaConfig {
    /// Reads `llama.*` metadata of a GGUF file.
    public init(gguf: GGUFFile) throws {
        let meta = gguf.metadata
        let arch = meta["general.architecture"]?.string ?? "?"
        guard arch == "llama" else { throw LlamaError.unsupportedArchitecture(source: gguf.path, architecture: arch) }
        func int(_ key: String) throws -> Int {
            guard let v = meta["llama." + key]?.int else { throw LlamaError.missingMetadata(source: gguf.path, key: "llama." + key) }
            return v
        }
        func float(_ key: String, default value: Float) -> Float { meta["llama." + key]?.float ?? value }
        let hidden = try int("embedding_length")
        let heads = try int("attention.head_count")
        let vocab = meta["llama.vocab_size"]?.int ?? meta["tokenizer.ggml.tokens"]?.array?.count
            ?? gguf.tensorInfos["token_embd.weight"]?.shape.first ?? 0
        var scaling = RopeScaling.none
        if let type = meta["llama.rope.scaling.type"]?.string, type == "linear",
           let factor = meta["llama.rope.scaling.factor"]?.float { scaling = .linear(factor: factor) }
        self.init(
            name: meta["general.name"]?.string ?? "llama",
            vocabularySize: vocab,
            hiddenSize: hidden,
            intermediateSize: try int("feed_forward_length"),
            layerCount: try int("block_count"),
            headCount: heads,
            kvHeadCount: meta["llama.attention.head_count_kv"]?.int ?? heads,
            headDim: meta["llama.attention.key_length"]?.int ?? meta["llama.rope.dimension_count"]?.int ?? hidden / max(heads, 1),
            ropeTheta: float("rope.freq_base", default: 10_000),
            ropeScaling: scaling,
            rmsNormEpsilon: float("attention.layer_norm_rms_epsilon", default: 1e-5),
            contextLength: try int("context_length"),
            tiedEmbeddings: gguf.tensorInfos["output.weight"] == nil)
        try validate(source: gguf.path)
    }

    /// Reads a Hugging Face config.json (already decoded).
    public init(hf: HFConfig, name: String, source: String) throws {
        guard hf.modelType == "llama" || hf.architectures.contains("LlamaForCausalLM") else {
            throw LlamaError.unsupportedArchitecture(source: source, architecture: hf.modelType)
        }
        guard !hf.attentionBias && !hf.mlpBias else {
            throw LlamaError.invalidConfig(source: source, reason: "attention_bias / mlp_bias are not supported")
        }
        guard hf.hiddenAct == "silu" else {
            throw LlamaError.invalidConfig(source: source, reason: "hidden_act '\(hf.hiddenAct)' is not supported (only silu)")
        }
        var scaling = RopeScaling.none
        if let s = hf.ropeScaling {
            let type = s.ropeType ?? "default"
            switch type {
            case "default": break
            case "linear": scaling = .linear(factor: Float(s.factor ?? 1))
            case "llama3":
                scaling = .llama3(factor: Float(s.factor ?? 1), lowFrequencyFactor: Float(s.lowFreqFactor ?? 1),
                                  highFrequencyFactor: Float(s.highFreqFactor ?? 4),
                                  originalContext: s.originalMaxPositionEmbeddings ?? 8192)
            default: throw LlamaError.invalidConfig(source: source, reason: "rope_scaling type '\(type)' is not supported (supported: default, linear, llama3)")
            }
        }
        self.init(
            name: name,
            vocabularySize: hf.vocabSize,
            hiddenSize: hf.hiddenSize,
            intermediateSize: hf.intermediateSize,
            layerCount: hf.layerCount,
            headCount: hf.attentionHeads,
            kvHeadCount: hf.kvHeads,
            headDim: hf.resolvedHeadDim,
            ropeTheta: Float(hf.ropeTheta),
            ropeScaling: scaling,
            rmsNormEpsilon: hf.rmsNormEps,
            contextLength: hf.maxPositionEmbeddings,
            tiedEmbeddings: hf.tieWordEmbeddings)
        try validate(source: source)
    }
}
