import Adapters
import Foundation
import Llama
import ModelFormats
import Testing
import TestSupport

/// Writes the tiny model with `adapter`'s low-rank deltas merged into its weights
/// (W' = c ⊙ W + λ·scale·(g ⊙ B)·A, c = 1 + λ(g − 1) for DoRA, else 1) as a new checkpoint.
func mergedCheckpoint(of adapter: Adapter, scale λ: Float, into directory: String) throws {
    let source = try SafetensorsFile(path: Fixtures.path("tiny/model.safetensors"))
    try FileManager.default.copyItem(atPath: Fixtures.path("tiny/config.json"), toPath: directory + "/config.json")
    var writer = SafetensorsWriter()
    for name in source.tensorNames {
        var values = try source.floats(name)
        let shape = try source.info(name).shape
        for layer in 0..<2 {
            for module in ProjectionModule.allCases where name == module.key(layer: layer) + ".weight" {
                guard case .lowRank(let d)? = adapter.delta(layer: layer, module: module) else { continue }
                for j in 0..<d.outFeatures {
                    let c = d.doraGain.map { 1 + λ * ($0[j] - 1) } ?? 1
                    for i in 0..<d.inFeatures {
                        var ba: Float = 0
                        for k in 0..<d.rank { ba += d.bTransposed[k * d.outFeatures + j] * d.a[k * d.inFeatures + i] }
                        values[j * d.inFeatures + i] = c * values[j * d.inFeatures + i] + λ * d.scale * ba
                    }
                }
            }
        }
        writer.add(name, shape: shape, values: values)
    }
    try writer.write(to: directory + "/model.safetensors")
}

@Suite("Unmerged adapters equal the base with merged weights")
struct MergedWeightsTests {
    @Test("unmerged LoRA/DoRA logits equal those of W + s·B·A merged into the base (per-request scale too)",
          arguments: [("lora-all", Float(1)), ("lora-all", 0.5), ("rslora", 1), ("dora", 1), ("dora", 2.5)])
    func unmergedEqualsMerged(name: String, scale: Float) throws {
        let model = try tinyModel()
        let adapter = try fixtureAdapter(name, model: model)
        let scratch = try TemporaryDirectory()
        try mergedCheckpoint(of: adapter, scale: scale, into: scratch.path)
        let merged = try LlamaModel.load(path: scratch.path)
        let ids = [1, 200, 37, 37, 5, 90, 14, 250, 3, 66, 128]
        let unmergedLogits = adapterLogits(model, AdapterUse(adapter, scale: scale), ids)
        let mergedLogits = adapterLogits(merged, nil, ids)
        let worst = zip(unmergedLogits, mergedLogits).map { maxAbsDifference($0, $1) }.max() ?? .infinity
        #expect(worst <= 1e-4, "\(name) ×\(scale): unmerged vs merged \(worst)")
    }

    @Test("a LoRA at scale 0 gives exactly the base's logits")
    func zeroScaleIsBase() throws {
        let model = try tinyModel()
        let adapter = try fixtureAdapter("lora-all", model: model)
        let ids = [4, 8, 15, 16, 23, 42]
        #expect(adapterLogits(model, AdapterUse(adapter, scale: 0), ids) == adapterLogits(model, nil, ids))
    }
}
