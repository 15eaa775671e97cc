import Foundation
import ModelFormats

/// What `AdapterSynthesizer` writes: a random adapter of one kind, in PEFT's file format.
public struct SyntheticAdapterSpec: Sendable, Equatable {
    public var kind: AdapterKind
    /// LoRA/DoRA rank.
    public var rank: Int
    /// Modules LoRA/DoRA/IA³ adapt (IA³ scales the input of `down`, as PEFT's default for Llama).
    public var targets: [ProjectionModule]
    /// Virtual tokens of prefix and prompt tuning.
    public var virtualTokens: Int
    /// Seed of the weights: the same spec writes the same bytes.
    public var seed: UInt64
    /// Multiplies the size of the random changes (1: subtle, like a lightly trained adapter).
    public var strength: Float
    /// How LoRA/DoRA factors are written: F32, or BF16/F16 as adapters trained in 16 bits are.
    public var factorType: SafetensorsWriter.DType

    /// A spec; defaults give a rank-8 LoRA on q and v.
    public init(kind: AdapterKind = .lora, rank: Int = 8, targets: [ProjectionModule] = [.q, .v], virtualTokens: Int = 16,
                seed: UInt64 = 0, strength: Float = 1, factorType: SafetensorsWriter.DType = .f32) {
        self.kind = kind
        self.rank = rank
        self.targets = targets
        self.virtualTokens = virtualTokens
        self.seed = seed
        self.strength = strength
        self.factorType = factorType
    }
}

/// Writes random adapters that load exactly as trained PEFT adapters do (adapter_config.json +
/// adapter_model.safetensors), for benchmarks and load tests. The weights are small random
/// perturbations: they change the output without wrecking it.
public enum AdapterSynthesizer {
    /// Writes `spec` for a base of shape `base` into `directory` (created if needed). DoRA needs
    /// the base `weights` (its magnitudes start at the row norms of W, as PEFT initializes them).
    public static func write(_ spec: SyntheticAdapterSpec, base: BaseModelShape, weights: (any BaseWeights)?,
                             baseName: String?, to directory: String) throws {
        var random = SeededRandom(seed: spec.seed)
        var tensors = SafetensorsWriter()
        var config: [String: Any] = ["task_type": "CAUSAL_LM", "inference_mode": true,
                                     "base_model_name_or_path": baseName ?? NSNull()]
        let prefix = "base_model.model."
        switch spec.kind {
        case .lora, .dora:
            config.merge(["peft_type": "LORA", "r": spec.rank, "lora_alpha": 2 * spec.rank, "bias": "none",
                          "use_dora": spec.kind == .dora, "use_rslora": false,
                          "target_modules": spec.targets.map(\.rawValue)]) { $1 }
            for layer in 0..<base.layerCount {
                for module in spec.targets {
                    let key = prefix + module.key(layer: layer)
                    let inFeatures = base.inFeatures(module), outFeatures = base.outFeatures(module)
                    let bound = 1 / Float(inFeatures).squareRoot()
                    tensors.add(key + ".lora_A.weight", shape: [spec.rank, inFeatures],
                                values: random.uniform(count: spec.rank * inFeatures, bound: bound), dtype: spec.factorType)
                    tensors.add(key + ".lora_B.weight", shape: [outFeatures, spec.rank],
                                values: random.uniform(count: outFeatures * spec.rank, bound: 0.02 * spec.strength),
                                dtype: spec.factorType)
                    if spec.kind == .dora {
                        guard let weights else { throw AdapterError.unsupported(file: directory, what: "DoRA without base weights", hint: "pass the model") }
                        let w = weights.weight(layer: layer, module: module)
                        let magnitudes = (0..<outFeatures).map { j -> Float in
                            var sum: Float = 0
                            for i in 0..<inFeatures { sum += w[j * inFeatures + i] * w[j * inFeatures + i] }
                            return sum.squareRoot() * (1 + random.uniform(bound: 0.05))
                        }
                        tensors.add(key + ".lora_magnitude_vector", shape: [outFeatures], values: magnitudes)
                    }
                }
            }
        case .ia3:
            let feedForward = spec.targets.filter { $0 == .down || $0 == .gate || $0 == .up }
            config.merge(["peft_type": "IA3", "target_modules": spec.targets.map(\.rawValue),
                          "feedforward_modules": feedForward.map(\.rawValue)]) { $1 }
            for layer in 0..<base.layerCount {
                for module in spec.targets {
                    let scalesInput = feedForward.contains(module)
                    let count = scalesInput ? base.inFeatures(module) : base.outFeatures(module)
                    tensors.add(prefix + module.key(layer: layer) + ".ia3_l", shape: scalesInput ? [1, count] : [count, 1],
                                values: random.uniform(count: count, bound: min(0.1 * spec.strength, 0.9)).map { 1 + $0 })
                }
            }
        case .prefixTuning:
            let width = base.layerCount * 2 * base.kvDim
            config.merge(["peft_type": "PREFIX_TUNING", "num_virtual_tokens": spec.virtualTokens, "token_dim": base.kvDim,
                          "num_layers": base.layerCount, "num_attention_heads": base.kvHeadCount,
                          "num_transformer_submodules": 1, "prefix_projection": false]) { $1 }
            tensors.add("prompt_embeddings", shape: [spec.virtualTokens, width],
                        values: random.uniform(count: spec.virtualTokens * width, bound: 0.5 * spec.strength))
        case .promptTuning:
            config.merge(["peft_type": "PROMPT_TUNING", "num_virtual_tokens": spec.virtualTokens, "token_dim": base.hiddenSize,
                          "num_layers": base.layerCount, "num_transformer_submodules": 1,
                          "prompt_tuning_init": "RANDOM"]) { $1 }
            tensors.add("prompt_embeddings", shape: [spec.virtualTokens, base.hiddenSize],
                        values: random.uniform(count: spec.virtualTokens * base.hiddenSize, bound: 0.05 * spec.strength))
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try json.write(to: URL(fileURLWithPath: directory + "/" + AdapterLoader.configFile), options: .atomic)
        try tensors.write(to: directory + "/" + AdapterLoader.tensorFile)
    }
}

/// SplitMix64: a small, seedable generator, so synthesized adapters are reproducible.
struct SeededRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [−bound, bound).
    mutating func uniform(bound: Float) -> Float {
        let unit = Float(next() >> 40) / Float(1 << 24)
        return (2 * unit - 1) * bound
    }

    mutating func uniform(count: Int, bound: Float) -> [Float] { (0..<count).map { _ in uniform(bound: bound) } }
}
