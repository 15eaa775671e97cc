import Foundation
import Kernels
import Testing
import ModelFormats

/// The real default model against values gguf-py computed (Tests/Fixtures/smollm2/tensors.json).
/// Skipped only when models/SmolLM2-135M-Instruct.Q4_1.gguf is absent; `make test` provides it.
@Suite("SmolLM2 GGUF", .enabled(if: Repository.hasSmolLM2, "models/SmolLM2-135M-Instruct.Q4_1.gguf is absent"))
struct SmolLM2FixtureTests {
    struct Expected: Decodable {
        let name: String
        let dtype: String
        let shape: [Int]
        let first: [Float]
        let sum: Double
        let sumAbs: Double
        enum CodingKeys: String, CodingKey { case name, dtype, shape, first, sum, sumAbs = "sum_abs" }
    }

    struct Document: Decodable { let tensors: [Expected] }

    static func expected() throws -> [Expected] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Repository.fixture("smollm2/tensors.json")))
        return try JSONDecoder().decode(Document.self, from: data).tensors
    }

    @Test("metadata and the tensor inventory match the reference facts")
    func inventory() throws {
        let model = try GGUFFile(path: Repository.smolLM2Path)
        #expect(model.metadata["general.architecture"]?.string == "llama")
        #expect(model.metadata["llama.block_count"]?.int == 30)
        #expect(model.metadata["llama.embedding_length"]?.int == 576)
        #expect(model.metadata["tokenizer.ggml.tokens"]?.strings?.count == 49152)
        #expect(model.metadata["tokenizer.ggml.merges"]?.strings?.count == 48900)
        #expect(model.tensorInfos.count == 272)
        #expect(model.tensorInfos["output.weight"] == nil)
        let types = model.tensorInfos.values.reduce(into: [GGMLType: Int]()) { $0[$1.type, default: 0] += 1 }
        #expect(types == [.q8_0: 1, .q4_1: 210, .f32: 61])
        #expect(try model.info("token_embd.weight").shape == [49152, 576])
        #expect(try model.info("blk.0.ffn_down.weight").shape == [576, 1536])
    }

    @Test("dequantized tensors match gguf-py: first 1024 values within 1e-6 absolute, sums within 1e-5 relative")
    func matchesGGUFPy() throws {
        let model = try GGUFFile(path: Repository.smolLM2Path)
        for reference in try Self.expected() {
            let info = try model.info(reference.name)
            #expect(info.shape == reference.shape, "\(reference.name)")
            #expect(info.type.name.uppercased() == reference.dtype, "\(reference.name)")
            let values = try model.floats(reference.name)
            for (index, (actual, wanted)) in zip(values, reference.first).enumerated() where abs(actual - wanted) > 1e-6 {
                Issue.record("\(reference.name)[\(index)] = \(actual), expected \(wanted)")
                break
            }
            var sum = 0.0, sumAbs = 0.0
            for value in values {
                sum += Double(value)
                sumAbs += Double(abs(value))
            }
            #expect(abs(sum - reference.sum) <= 1e-5 * abs(reference.sum), "\(reference.name) sum \(sum)")
            #expect(abs(sumAbs - reference.sumAbs) <= 1e-5 * reference.sumAbs, "\(reference.name) sum_abs \(sumAbs)")
        }
    }
}
