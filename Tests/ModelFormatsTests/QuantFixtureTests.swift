import Foundation
import Kernels
import Testing
import ModelFormats

/// Every dequantizer against gguf-py's `gguf.quants.dequantize` on random valid blocks
/// (Tests/Fixtures/quant, written by make_fixtures.py).
@Suite("dequantization fixtures")
struct QuantFixtureTests {
    static let expectedTypes: [String: GGMLType] = [
        "f32": .f32, "f16": .f16, "bf16": .bf16, "q8_0": .q8_0,
        "q4_0": .q4_0, "q4_1": .q4_1, "q4_k": .q4_K, "q6_k": .q6_K,
    ]

    @Test("each encoding decodes bit-for-bit like gguf-py (tolerance: exact equality)",
          arguments: ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q4_k", "q6_k"])
    func matchesGGUFPy(name: String) throws {
        let blocks = try GGUFFile(path: Repository.fixture("quant/blocks.gguf"))
        let expected = try SafetensorsFile(path: Repository.fixture("quant/expected.safetensors"))
        let info = try blocks.info(name)
        #expect(info.type == Self.expectedTypes[name])
        #expect(info.shape == [3, 512])
        #expect(try expected.info(name).shape == [3, 512])

        let actual = try blocks.floats(name)
        let reference = try expected.floats(name)
        #expect(actual.count == reference.count)
        var mismatches = 0
        for (a, b) in zip(actual, reference) where a.bitPattern != b.bitPattern {
            mismatches += 1
        }
        #expect(mismatches == 0, "\(mismatches) of \(actual.count) values differ for \(name)")
    }
}
