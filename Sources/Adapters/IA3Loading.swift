/// IA³ tensors → per-(layer, module) `IA3Scaling`s.
///
/// File layout: `base_model.model.<module key>.ia3_l`, [out, 1] for modules whose output is
/// scaled, [1, in] for `feedforward_modules` (their input is scaled).
struct IA3Loading {
    let config: PEFTConfig
    let configPath: String
    let base: BaseModelShape
    let tensors: AdapterTensors

    func load() throws -> [ModuleDelta?] {
        if let saved = config.modulesToSave, !saved.isEmpty {
            throw AdapterError.unsupported(file: configPath, what: "modules_to_save \(saved)",
                                           hint: "fully trained copies of base modules cannot be shared between requests")
        }
        let targets = PEFTTargets(config: config, file: configPath)
        var deltas = [ModuleDelta?](repeating: nil, count: base.layerCount * ProjectionModule.count)
        for layer in 0..<base.layerCount {
            for module in ProjectionModule.allCases {
                let key = module.key(layer: layer)
                guard try targets.isTarget(key) else { continue }
                let scalesInput = try targets.isFeedForward(key)
                let shape = scalesInput ? [1, base.inFeatures(module)] : [base.outFeatures(module), 1]
                let vector = try tensors.take("base_model.model." + key + ".ia3_l", shapes: [shape])
                deltas[layer * ProjectionModule.count + module.index] =
                    .ia3(IA3Scaling(vector: vector, scalesInput: scalesInput))
            }
        }
        try tensors.checkAllUsed()
        guard deltas.contains(where: { $0 != nil }) else {
            throw AdapterError.baseMismatch(file: configPath, reason: "target_modules selects no projection of this model")
        }
        return deltas
    }
}
