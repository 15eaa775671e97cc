import Kernels

/// Prefix- and prompt-tuning tensors → the adapter's virtual tokens.
///
/// Both store one tensor, `prompt_embeddings`. Prompt tuning: [n, hidden], input embeddings of
/// positions 0..<n. Prefix tuning: [n, layers · 2 · kvHeads · headDim], keys and values per
/// layer (PEFT saves the projected prefix when `prefix_projection` is set, so both variants
/// load the same way).
struct VirtualTokenLoading {
    let config: PEFTConfig
    let configPath: String
    let kind: PEFTType
    let base: BaseModelShape
    let limits: AdapterLimits
    let tensors: AdapterTensors

    /// The virtual tokens, [n, width].
    func load() throws -> FloatBuffer {
        guard let n = config.numVirtualTokens, n > 0 else {
            throw AdapterError.badConfig(file: configPath, reason: "num_virtual_tokens must be a positive number")
        }
        guard n <= limits.maxVirtualTokens else {
            throw AdapterError.unsupported(file: configPath, what: "\(n) virtual tokens",
                                           hint: "this server accepts at most \(limits.maxVirtualTokens)")
        }
        if let submodules = config.numTransformerSubmodules, submodules != 1 {
            throw AdapterError.unsupported(file: configPath, what: "num_transformer_submodules \(submodules)",
                                           hint: "decoder-only models have one transformer")
        }
        if let layers = config.numLayers, layers != base.layerCount {
            throw AdapterError.baseMismatch(file: configPath, reason: "num_layers is \(layers), the model has \(base.layerCount)")
        }
        let width: Int
        if kind == .prefixTuning {
            width = base.layerCount * 2 * base.kvDim
            // PEFT rewrites token_dim to the KV width (kv heads × head dim) for prefix tuning.
            if let dim = config.tokenDim, dim != base.kvDim {
                throw AdapterError.baseMismatch(file: configPath, reason: "token_dim is \(dim), the model's key/value width is \(base.kvDim)")
            }
        } else {
            width = base.hiddenSize
            if let dim = config.tokenDim, dim != base.hiddenSize {
                throw AdapterError.baseMismatch(file: configPath, reason: "token_dim is \(dim), the model's hidden size is \(base.hiddenSize)")
            }
        }
        let embeddings = try tensors.take("prompt_embeddings", shapes: [[n, width]])
        try tensors.checkAllUsed()
        return embeddings
    }
}
