import Foundation

/// The `config.json` of a Llama-family Hugging Face checkpoint, validated while decoding.
///
/// transformers 5 also writes `rope_parameters` ({"rope_theta", "rope_type", ...}); when the
/// legacy `rope_theta` / `rope_scaling` keys are absent they are taken from there.
public struct HFConfig: Decodable, Sendable, Equatable {
    /// `model_type`, e.g. "llama".
    public let modelType: String
    /// `architectures`, e.g. ["LlamaForCausalLM"] (empty when absent).
    public let architectures: [String]
    /// `vocab_size`.
    public let vocabSize: Int
    /// `hidden_size`: the residual stream width.
    public let hiddenSize: Int
    /// `intermediate_size`: the SwiGLU inner width.
    public let intermediateSize: Int
    /// `num_hidden_layers`.
    public let layerCount: Int
    /// `num_attention_heads`: query heads.
    public let attentionHeads: Int
    /// `num_key_value_heads` (defaults to `attentionHeads`).
    public let kvHeads: Int
    /// `head_dim` when given; use `resolvedHeadDim` for the effective value.
    public let headDim: Int?
    /// `rms_norm_eps`.
    public let rmsNormEps: Float
    /// `rope_theta` (defaults to 10000).
    public let ropeTheta: Double
    /// `rope_scaling`, when present and not the default rope.
    public let ropeScaling: RopeScaling?
    /// `max_position_embeddings` (defaults to 2048).
    public let maxPositionEmbeddings: Int
    /// `tie_word_embeddings` (defaults to false): lm_head reuses the token embedding.
    public let tieWordEmbeddings: Bool
    /// `attention_bias` (defaults to false).
    public let attentionBias: Bool
    /// `mlp_bias` (defaults to false).
    public let mlpBias: Bool
    /// `hidden_act` (defaults to "silu").
    public let hiddenAct: String
    /// `bos_token_id`, as a list (it may be a number, a list or null in the file).
    public let bosTokenIDs: [Int]
    /// `eos_token_id`, as a list (it may be a number, a list or null in the file).
    public let eosTokenIDs: [Int]

    /// The per-head width: `head_dim`, or hidden size / heads.
    public var resolvedHeadDim: Int { headDim ?? hiddenSize / attentionHeads }

    /// RoPE scaling parameters (`rope_scaling`); fields absent from the file are nil.
    public struct RopeScaling: Decodable, Sendable, Equatable {
        /// `rope_type` (or legacy `type`), e.g. "llama3", "linear".
        public let ropeType: String?
        /// `factor`.
        public let factor: Double?
        /// `low_freq_factor` (llama3).
        public let lowFreqFactor: Double?
        /// `high_freq_factor` (llama3).
        public let highFreqFactor: Double?
        /// `original_max_position_embeddings` (llama3).
        public let originalMaxPositionEmbeddings: Int?

        enum CodingKeys: String, CodingKey {
            case ropeType = "rope_type", legacyType = "type", factor
            case lowFreqFactor = "low_freq_factor", highFreqFactor = "high_freq_factor"
            case originalMaxPositionEmbeddings = "original_max_position_embeddings"
        }

        /// Decodes the object; `rope_type` wins over the legacy `type`.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let ropeType = try c.decodeIfPresent(String.self, forKey: .ropeType)
            self.ropeType = try ropeType ?? c.decodeIfPresent(String.self, forKey: .legacyType)
            factor = try c.decodeIfPresent(Double.self, forKey: .factor)
            lowFreqFactor = try c.decodeIfPresent(Double.self, forKey: .lowFreqFactor)
            highFreqFactor = try c.decodeIfPresent(Double.self, forKey: .highFreqFactor)
            originalMaxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .originalMaxPositionEmbeddings)
        }
    }

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", architectures, vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size", layerCount = "num_hidden_layers"
        case attentionHeads = "num_attention_heads", kvHeads = "num_key_value_heads", headDim = "head_dim"
        case rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta", ropeScaling = "rope_scaling"
        case ropeParameters = "rope_parameters", maxPositionEmbeddings = "max_position_embeddings"
        case tieWordEmbeddings = "tie_word_embeddings", attentionBias = "attention_bias", mlpBias = "mlp_bias"
        case hiddenAct = "hidden_act", bosTokenID = "bos_token_id", eosTokenID = "eos_token_id"
    }

    /// transformers 5's `rope_parameters`: the theta plus the scaling fields in one object.
    private struct RopeParameters: Decodable {
        let ropeTheta: Double?
        let ropeType: String?
        enum CodingKeys: String, CodingKey { case ropeTheta = "rope_theta", ropeType = "rope_type" }
    }

    /// Decodes and validates the configuration (sizes positive, heads divisible by KV heads, ...).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try c.decode(String.self, forKey: .modelType)
        architectures = try c.decodeIfPresent([String].self, forKey: .architectures) ?? []
        vocabSize = try Self.positive(c, .vocabSize)
        hiddenSize = try Self.positive(c, .hiddenSize)
        intermediateSize = try Self.positive(c, .intermediateSize)
        layerCount = try Self.positive(c, .layerCount)
        attentionHeads = try Self.positive(c, .attentionHeads)
        kvHeads = try c.decodeIfPresent(Int.self, forKey: .kvHeads) ?? attentionHeads
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim)
        rmsNormEps = try c.decode(Float.self, forKey: .rmsNormEps)
        let parameters = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)
        ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? parameters?.ropeTheta ?? 10000
        if let scaling = try c.decodeIfPresent(RopeScaling.self, forKey: .ropeScaling) {
            ropeScaling = scaling
        } else if let type = parameters?.ropeType, type != "default" {
            ropeScaling = try c.decode(RopeScaling.self, forKey: .ropeParameters)
        } else {
            ropeScaling = nil
        }
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 2048
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false
        attentionBias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? false
        mlpBias = try c.decodeIfPresent(Bool.self, forKey: .mlpBias) ?? false
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "silu"
        bosTokenIDs = try Self.tokenIDs(c, .bosTokenID)
        eosTokenIDs = try Self.tokenIDs(c, .eosTokenID)
        try validate(c)
    }

    private func validate(_ c: KeyedDecodingContainer<CodingKeys>) throws {
        func fail(_ key: CodingKeys, _ message: String) -> DecodingError {
            DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: message)
        }
        guard kvHeads > 0, attentionHeads % kvHeads == 0 else {
            throw fail(.kvHeads, "num_key_value_heads \(kvHeads) must be positive and divide num_attention_heads \(attentionHeads)")
        }
        if let headDim {
            guard headDim > 0 else { throw fail(.headDim, "head_dim \(headDim) must be positive") }
        } else if hiddenSize % attentionHeads != 0 {
            throw fail(.attentionHeads, "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(attentionHeads)")
        }
        guard rmsNormEps > 0, rmsNormEps.isFinite else { throw fail(.rmsNormEps, "rms_norm_eps must be positive") }
        guard ropeTheta > 0, ropeTheta.isFinite else { throw fail(.ropeTheta, "rope_theta must be positive") }
        guard maxPositionEmbeddings > 0 else { throw fail(.maxPositionEmbeddings, "max_position_embeddings must be positive") }
    }

    private static func positive(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Int {
        let value = try c.decode(Int.self, forKey: key)
        guard value > 0 else {
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "\(key.stringValue) must be positive, got \(value)")
        }
        return value
    }

    /// A token id field that may be a number, a list of numbers, null or absent.
    private static func tokenIDs(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> [Int] {
        if try !c.contains(key) || c.decodeNil(forKey: key) { return [] }
        if let single = try? c.decode(Int.self, forKey: key) { return [single] }
        return try c.decode([Int].self, forKey: key)
    }

    /// Reads and validates `config.json` in `directory`; throws `fileNotFound` or `badConfig`.
    public static func load(directory: String) throws -> HFConfig {
        let path = (directory as NSString).appendingPathComponent("config.json")
        let file = try MappedFile(path: path)
        return try decode(Data(file.buffer), file: path)
    }

    /// Decodes and validates config JSON; `file` is used in error messages.
    public static func decode(_ json: Data, file: String = "config.json") throws -> HFConfig {
        do {
            return try JSONDecoder().decode(HFConfig.self, from: json)
        } catch let error as DecodingError {
            throw ModelFormatError.badConfig(file: file, reason: describe(error))
        } catch {
            throw ModelFormatError.badConfig(file: file, reason: "\(error)")
        }
    }
}
