import Foundation

/// A string field PEFT also accepts as a list of strings (`target_modules`, `layers_pattern`, …).
public enum StringOrList: Sendable, Equatable, Decodable {
    /// A single string: for module selectors, a regular expression matched against the whole key.
    case string(String)
    /// A list of names.
    case list([String])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) { self = .string(text) } else { self = .list(try container.decode([String].self)) }
    }
}

/// `layers_to_transform`: one layer index or a list of them.
public enum LayerSelection: Sendable, Equatable, Decodable {
    case one(Int)
    case list([Int])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let index = try? container.decode(Int.self) { self = .one(index) } else { self = .list(try container.decode([Int].self)) }
    }

    /// Whether the selection names `layer` (an empty list selects every layer, as in PEFT).
    func contains(_ layer: Int) -> Bool {
        switch self {
        case .one(let index): return index == layer
        case .list(let indices): return indices.isEmpty || indices.contains(layer)
        }
    }

    var isEmpty: Bool { if case .list(let indices) = self { return indices.isEmpty } else { return false } }
}

/// The kinds of PEFT adapter Switchboard serves.
public enum PEFTType: String, Sendable, Equatable, Decodable {
    case lora = "LORA"
    case ia3 = "IA3"
    case prefixTuning = "PREFIX_TUNING"
    case promptTuning = "PROMPT_TUNING"
}

/// The fields of a PEFT `adapter_config.json` that decide what an adapter computes.
/// Field semantics follow PEFT 0.21 (see `PEFTTargets` for how modules are selected).
public struct PEFTConfig: Sendable, Equatable, Decodable {
    public var peftType: String
    public var baseModelNameOrPath: String?
    // LoRA / DoRA
    public var r: Int?
    public var loraAlpha: Double?
    public var useRslora: Bool?
    public var useDora: Bool?
    public var rankPattern: [String: Int]?
    public var alphaPattern: [String: Double]?
    public var fanInFanOut: Bool?
    public var bias: String?
    // Module selection (LoRA, IA³)
    public var targetModules: StringOrList?
    public var excludeModules: StringOrList?
    public var layersToTransform: LayerSelection?
    public var layersPattern: StringOrList?
    public var modulesToSave: [String]?
    public var feedforwardModules: StringOrList?
    // Prefix and prompt tuning
    public var numVirtualTokens: Int?
    public var tokenDim: Int?
    public var numLayers: Int?
    public var numAttentionHeads: Int?
    public var prefixProjection: Bool?
    public var numTransformerSubmodules: Int?
    // Options that change what LoRA computes; refused when set (see `AdapterLoader`).
    public var loraBias: Bool?
    public var layerReplication: [[Int]]?
    public var targetParameters: [String]?
    public var aloraInvocationTokens: [Int]?

    enum CodingKeys: String, CodingKey {
        case peftType = "peft_type", baseModelNameOrPath = "base_model_name_or_path"
        case r, loraAlpha = "lora_alpha", useRslora = "use_rslora", useDora = "use_dora"
        case rankPattern = "rank_pattern", alphaPattern = "alpha_pattern", fanInFanOut = "fan_in_fan_out", bias
        case targetModules = "target_modules", excludeModules = "exclude_modules"
        case layersToTransform = "layers_to_transform", layersPattern = "layers_pattern"
        case modulesToSave = "modules_to_save", feedforwardModules = "feedforward_modules"
        case numVirtualTokens = "num_virtual_tokens", tokenDim = "token_dim", numLayers = "num_layers"
        case numAttentionHeads = "num_attention_heads", prefixProjection = "prefix_projection"
        case numTransformerSubmodules = "num_transformer_submodules"
        case loraBias = "lora_bias", layerReplication = "layer_replication", targetParameters = "target_parameters"
        case aloraInvocationTokens = "alora_invocation_tokens"
    }

    /// The adapter kind, or an error naming the unsupported one.
    public func kind(file: String) throws -> PEFTType {
        guard let kind = PEFTType(rawValue: peftType) else {
            throw AdapterError.unsupported(file: file, what: "peft_type '\(peftType)'",
                                           hint: "supported: LORA (incl. DoRA, rsLoRA), IA3, PREFIX_TUNING, PROMPT_TUNING")
        }
        return kind
    }

    /// Decodes an adapter_config.json.
    public static func decode(_ data: Data, file: String) throws -> PEFTConfig {
        do {
            return try JSONDecoder().decode(PEFTConfig.self, from: data)
        } catch {
            throw AdapterError.badConfig(file: file, reason: "\(error)")
        }
    }
}
