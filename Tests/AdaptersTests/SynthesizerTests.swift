import Adapters
import Foundation
import Llama
import Testing
import TestSupport

@Suite("Synthetic adapters")
struct SynthesizerTests {
    @Test("every kind writes a PEFT directory that loads back and changes the output", arguments: AdapterKind.allCases)
    func roundTrip(kind: AdapterKind) throws {
        let model = try tinyModel()
        let scratch = try TemporaryDirectory()
        let spec = SyntheticAdapterSpec(kind: kind, rank: 4, targets: kind == .ia3 ? [.k, .v, .down] : ProjectionModule.allCases,
                                        virtualTokens: 3, seed: 7)
        let directory = scratch.path + "/a"
        try AdapterSynthesizer.write(spec, base: model.adapterShape, weights: model, baseName: "tiny", to: directory)
        let adapter = try AdapterLoader.load(directory: directory, name: "a", base: model.adapterShape, weights: model)
        #expect(adapter.kind == kind)
        let ids = [9, 8, 7, 6]
        let difference = zip(adapterLogits(model, nil, ids), adapterLogits(model, AdapterUse(adapter), ids))
            .map { maxAbsDifference($0, $1) }.max() ?? 0
        #expect(difference > 1e-4)
    }

    @Test("the same spec writes the same bytes")
    func deterministic() throws {
        let model = try tinyModel()
        let scratch = try TemporaryDirectory()
        let spec = SyntheticAdapterSpec(kind: .lora, rank: 2, seed: 3)
        for name in ["x", "y"] {
            try AdapterSynthesizer.write(spec, base: model.adapterShape, weights: nil, baseName: nil, to: scratch.path + "/" + name)
        }
        let bytes = try ["x", "y"].map { try Data(contentsOf: URL(fileURLWithPath: scratch.path + "/\($0)/" + AdapterLoader.tensorFile)) }
        #expect(bytes[0] == bytes[1])
    }
}
