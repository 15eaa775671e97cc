import Adapters
import Foundation
import Kernels
import Llama
import ModelFormats
import Testing
import TestSupport

/// Adapters trained in 16 bits are saved with bf16 (or f16) factors. Their factors stay in those
/// 16 bits in memory — half the bytes each step reads — and compute exactly what the same values
/// widened to f32 compute (PEFT widens them to f32 on an f32 base too).
@Suite("Factors kept as the file stores them")
struct StoredPrecisionTests {
    /// Writes a copy of adapter `source` whose tensors are all F32 (the same values, widened).
    func widenedCopy(of source: String, to directory: String) throws {
        let file = try SafetensorsFile(path: source + "/" + AdapterLoader.tensorFile)
        var writer = SafetensorsWriter()
        for (name, info) in file.tensorInfos {
            writer.add(name, shape: info.shape, values: try file.floats(name))
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try writer.write(to: directory + "/" + AdapterLoader.tensorFile)
        try FileManager.default.copyItem(atPath: source + "/" + AdapterLoader.configFile,
                                         toPath: directory + "/" + AdapterLoader.configFile)
    }

    func lowRankPrecisions(_ adapter: Adapter, layers: Int) -> Set<FactorPrecision> {
        var found = Set<FactorPrecision>()
        for layer in 0..<layers {
            for module in ProjectionModule.allCases {
                if case .lowRank(let d)? = adapter.delta(layer: layer, module: module) {
                    found.insert(d.a.precision)
                    found.insert(d.bTransposed.precision)
                }
            }
        }
        return found
    }

    @Test("a LoRA saved in 16 bits keeps them, and equals its f32 copy bit for bit",
          arguments: [SafetensorsWriter.DType.bf16, .f16], FactorPrecision.allCases)
    func sixteenBitLoRA(dtype: SafetensorsWriter.DType, configured: FactorPrecision) throws {
        let model = try tinyModel()
        let scratch = try TemporaryDirectory()
        let spec = SyntheticAdapterSpec(kind: .lora, rank: 4, targets: ProjectionModule.allCases, seed: 11, strength: 5,
                                        factorType: dtype)
        try AdapterSynthesizer.write(spec, base: model.adapterShape, weights: model, baseName: nil, to: scratch.path + "/narrow")
        try widenedCopy(of: scratch.path + "/narrow", to: scratch.path + "/wide")
        func load(_ name: String, _ precision: FactorPrecision) throws -> Adapter {
            try AdapterLoader.load(directory: scratch.path + "/" + name, name: name, base: model.adapterShape, weights: model,
                                   limits: AdapterLimits(precision: precision))
        }
        let narrow = try load("narrow", configured), wide = try load("wide", .f32)
        let kept: FactorPrecision = dtype == .bf16 ? .bf16 : .f16
        #expect(lowRankPrecisions(narrow, layers: model.config.layerCount) == [kept])
        #expect(lowRankPrecisions(wide, layers: model.config.layerCount) == [.f32])
        #expect(narrow.factorPrecisions == [kept] && wide.factorPrecisions == [.f32])
        let ids = [3, 14, 15, 92, 65]
        #expect(adapterLogits(model, AdapterUse(narrow), ids) == adapterLogits(model, AdapterUse(wide), ids))
        #expect(adapterLogits(model, AdapterUse(narrow), ids) != adapterLogits(model, nil, ids))
    }

    @Test("a DoRA saved in bf16 is kept as configured: its Bᵀ carries the gain, which 16 bits would round")
    func doraIsNotNarrowed() throws {
        let model = try tinyModel()
        let scratch = try TemporaryDirectory()
        let spec = SyntheticAdapterSpec(kind: .dora, rank: 4, targets: [.q, .v], seed: 12, factorType: .bf16)
        try AdapterSynthesizer.write(spec, base: model.adapterShape, weights: model, baseName: nil, to: scratch.path + "/d")
        let adapter = try AdapterLoader.load(directory: scratch.path + "/d", name: "d", base: model.adapterShape, weights: model)
        #expect(lowRankPrecisions(adapter, layers: model.config.layerCount) == [.f32])
    }

    @Test("bfloat16 storage rounds to nearest, ties to even, as the safetensors writer does")
    func bfloat16Rounding() {
        let values: [Float] = [1, 1 + 0x1p-8, 1 + 3 * 0x1p-8, 1 + 0x1p-8 + 0x1p-20, -2.5e-3, 3.0e38, .infinity]
        let expected: [Float] = [1, 1, 1 + 0x1p-6, 1 + 0x1p-7, -0.00250244140625, 3.00405527047391e38, .infinity]
        let factor = LowRankFactor(FloatBuffer(values), rows: 1, columns: values.count, layout: .a, precision: .bf16)
        #expect((0..<values.count).map { factor[$0] } == expected)
        var writer = SafetensorsWriter()
        writer.add("t", shape: [values.count], values: values, dtype: .bf16)
        let bytes = try? writer.serialized()
        #expect(bytes.map { $0.suffix(values.count * 2) } == Data(expected.map { UInt16($0.bitPattern >> 16) }
            .flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }))
    }
}
