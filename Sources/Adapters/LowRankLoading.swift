import Foundation
import Kernels
import ModelFormats

/// LoRA and DoRA tensors → per-(layer, module) `LowRankDelta`s.
///
/// File layout (PEFT, keys without the adapter name): `base_model.model.<module key>.lora_A.weight`
/// [r, in], `….lora_B.weight` [out, r], and for DoRA `….lora_magnitude_vector` [out].
/// Which modules, with which r and scale, is decided by `PEFTTargets` exactly as PEFT decides it.
struct LowRankLoading {
    let config: PEFTConfig
    let configPath: String
    let base: BaseModelShape
    let weights: (any BaseWeights)?
    let limits: AdapterLimits
    let tensors: AdapterTensors

    func load() throws -> [ModuleDelta?] {
        try refuseUnsupportedOptions()
        let targets = PEFTTargets(config: config, file: configPath)
        let isDoRA = config.useDora ?? false
        if isDoRA && weights == nil {
            throw AdapterError.unsupported(file: configPath, what: "DoRA without the base weights", hint: "load it through the server")
        }
        var pending: [(slot: Int, delta: PendingDelta)] = []
        for layer in 0..<base.layerCount {
            for module in ProjectionModule.allCases {
                let key = module.key(layer: layer)
                guard try targets.isTarget(key) else { continue }
                let rank = try targets.rank(key)
                guard rank > 0 else { throw AdapterError.badConfig(file: configPath, reason: "rank of \(key) is \(rank)") }
                guard rank <= limits.maxRank else {
                    throw AdapterError.rankTooLarge(file: configPath, module: key, rank: rank, limit: limits.maxRank)
                }
                let delta = try loadModule(key: key, layer: layer, module: module, rank: rank,
                                           scale: Float(try targets.scale(key)), isDoRA: isDoRA)
                pending.append((layer * ProjectionModule.count + module.index, delta))
            }
        }
        try refuseForeignTargets()
        try tensors.checkAllUsed()
        guard !pending.isEmpty else {
            throw AdapterError.baseMismatch(file: configPath, reason: "target_modules selects no projection of this model")
        }
        // Every factor of the adapter in one arena (see FactorArena for why).
        let arena = FactorArena(capacity: FactorArena.bytesNeeded(pending.flatMap { slot in
            [slot.delta.a, slot.delta.bTransposed].map { $0.count * slot.delta.precision.elementSize }
        }))
        var deltas = [ModuleDelta?](repeating: nil, count: base.layerCount * ProjectionModule.count)
        for (slot, delta) in pending { deltas[slot] = .lowRank(delta.stored(in: arena)) }
        // The f32 copies read from the file are garbage now; glibc would keep their pages.
        pending.removeAll()
        MemoryReclaimer.releaseSoon()
        return deltas
    }

    /// One module's factors in f32, before they are stored at their precision.
    private struct PendingDelta {
        let rank: Int, inFeatures: Int, outFeatures: Int
        let a: FloatBuffer, bTransposed: FloatBuffer
        let precision: FactorPrecision
        let scale: Float
        let gain: FloatBuffer?

        func stored(in arena: FactorArena) -> LowRankDelta {
            LowRankDelta(rank: rank, inFeatures: inFeatures, outFeatures: outFeatures,
                         a: LowRankFactor(a, rows: rank, columns: inFeatures, layout: .a, precision: precision, arena: arena),
                         bTransposed: LowRankFactor(bTransposed, rows: rank, columns: outFeatures, layout: .bTransposed,
                                                    precision: precision, arena: arena),
                         scale: scale, doraGain: gain)
        }
    }

    private func loadModule(key: String, layer: Int, module: ProjectionModule, rank: Int, scale: Float,
                            isDoRA: Bool) throws -> PendingDelta {
        let inFeatures = base.inFeatures(module), outFeatures = base.outFeatures(module)
        let prefix = "base_model.model." + key
        if let shape = tensors.shape(prefix + ".lora_A.weight"), shape.count == 2, shape[0] != rank, shape[1] == inFeatures {
            throw AdapterError.baseMismatch(file: tensors.path, reason: "\(key) has rank \(shape[0]) in the file but \(rank) in the config")
        }
        let stored = [prefix + ".lora_A.weight", prefix + ".lora_B.weight"].map { tensors.storedType($0) }
        let a = try tensors.take(prefix + ".lora_A.weight", shapes: [[rank, inFeatures]])   // [r, in]
        let b = try tensors.take(prefix + ".lora_B.weight", shapes: [[outFeatures, rank]])  // [out, r]
        var gain: FloatBuffer?
        if isDoRA {
            let name = tensors.has(prefix + ".lora_magnitude_vector") ? prefix + ".lora_magnitude_vector"
                : prefix + ".lora_magnitude_vector.weight"
            let magnitude = try tensors.take(name, shapes: [[outFeatures], [outFeatures, 1], [1, outFeatures]])
            gain = try doraGain(key: key, layer: layer, module: module, a: a, b: b, magnitude: magnitude, scale: scale)
        }
        // Bᵀ [r, out], with DoRA's gain folded into its columns: g ⊙ (B·u) = (g ⊙ B)·u.
        let bTransposed = FloatBuffer(count: rank * outFeatures)
        for j in 0..<outFeatures {
            let g = gain?[j] ?? 1
            for k in 0..<rank { bTransposed.pointer[k * outFeatures + j] = g * b.pointer[j * rank + k] }
        }
        return PendingDelta(rank: rank, inFeatures: inFeatures, outFeatures: outFeatures, a: a, bTransposed: bTransposed,
                            precision: storagePrecision(stored: stored, isDoRA: isDoRA, factors: [a, bTransposed]),
                            scale: scale, gain: gain)
    }

    /// How a module's factors are kept (A and Bᵀ share one precision). Factors the file stores in
    /// 16 bits stay in those 16 bits: exact, and half the bytes of f32 (PEFT, too, computes
    /// with them widened to f32 on an f32 base). Not for DoRA, whose Bᵀ has the gain folded in.
    /// Otherwise as configured, where f16 needs every value inside its range. The loader's arithmetic
    /// (DoRA's norm included) uses the f32 values; only storage is rounded.
    private func storagePrecision(stored: [GGMLType?], isDoRA: Bool, factors: [FloatBuffer]) -> FactorPrecision {
        if !isDoRA && stored.allSatisfy({ $0 == .bf16 }) { return .bf16 }
        if !isDoRA && stored.allSatisfy({ $0 == .f16 }) { return .f16 }
        switch limits.precision {
        case .f32: return .f32
        case .bf16: return .bf16
        case .f16:
            let fitsHalf = factors.allSatisfy { factor in
                (0..<factor.count).allSatisfy { abs(factor.pointer[$0]) <= LowRankFactor.largestHalf }
            }
            return fitsHalf ? .f16 : .f32
        }
    }

    /// DoRA's g = m / ‖W + scale·B·A‖, the norm per output row over the input dimension (PEFT's
    /// `get_weight_norm` for Linear, computed detached from the same dequantized W).
    private func doraGain(key: String, layer: Int, module: ProjectionModule, a: FloatBuffer, b: FloatBuffer,
                          magnitude: FloatBuffer, scale: Float) throws -> FloatBuffer {
        let inFeatures = base.inFeatures(module), outFeatures = base.outFeatures(module), rank = a.count / inFeatures
        let w = weights!.weight(layer: layer, module: module)
        let gain = FloatBuffer(count: outFeatures)
        var row = [Float](repeating: 0, count: inFeatures)
        for j in 0..<outFeatures {
            // row = W[j, :] + Σ_k (scale · B[j, k]) · A[k, :]  (axpy form: vectorizes)
            for i in 0..<inFeatures { row[i] = w[j * inFeatures + i] }
            for k in 0..<rank {
                let coefficient = scale * b.pointer[j * rank + k]
                let ak = a.pointer + k * inFeatures
                for i in 0..<inFeatures { row[i] += coefficient * ak[i] }
            }
            var sumSquares: Double = 0
            for value in row { sumSquares += Double(value) * Double(value) }
            let norm = Float(sumSquares.squareRoot())
            guard norm > 0 else {
                throw AdapterError.baseMismatch(file: tensors.path, reason: "\(key) row \(j) of W + scale·B·A is zero (DoRA divides by its norm)")
            }
            gain.pointer[j] = magnitude.pointer[j] / norm
        }
        return gain
    }

    /// Options that would change what the adapter computes in ways this engine does not implement.
    private func refuseUnsupportedOptions() throws {
        if let bias = config.bias, bias != "none" {
            throw AdapterError.unsupported(file: configPath, what: "bias '\(bias)'", hint: "retrain with bias=\"none\"")
        }
        if let saved = config.modulesToSave, !saved.isEmpty {
            throw AdapterError.unsupported(file: configPath, what: "modules_to_save \(saved)",
                                           hint: "fully trained copies of base modules cannot be shared between requests; retrain without modules_to_save")
        }
        if config.loraBias == true {
            throw AdapterError.unsupported(file: configPath, what: "lora_bias", hint: "retrain with lora_bias=false")
        }
        if let replication = config.layerReplication, !replication.isEmpty {
            throw AdapterError.unsupported(file: configPath, what: "layer_replication", hint: "the base model's layers are fixed")
        }
        if let parameters = config.targetParameters, !parameters.isEmpty {
            throw AdapterError.unsupported(file: configPath, what: "target_parameters", hint: "target linear modules instead")
        }
        if let tokens = config.aloraInvocationTokens, !tokens.isEmpty {
            throw AdapterError.unsupported(file: configPath, what: "activated LoRA (alora_invocation_tokens)", hint: "use a plain LoRA")
        }
        // fan_in_fan_out: PEFT resets it to false for nn.Linear (every Llama projection), so the
        // saved tensors have the usual [r, in] / [out, r] layout either way.
    }

    /// Module names in `target_modules` that are not one of the seven projections (lm_head,
    /// embed_tokens, …) would have been adapted by PEFT; refuse rather than ignore them.
    private func refuseForeignTargets() throws {
        guard case .list(let names)? = config.targetModules else { return }
        let known = Set(ProjectionModule.allCases.map(\.rawValue))
        for name in names {
            let last = name.split(separator: ".").last.map(String.init) ?? name
            if !known.contains(last) {
                throw AdapterError.unsupported(file: configPath, what: "target module '\(name)'",
                                               hint: "adapters may target q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj")
            }
        }
    }
}
