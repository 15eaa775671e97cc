import Testing
import Llama
import TestSupport

/// All-position logits of `ids` in one chunk.
func allLogits(_ model: LlamaModel, _ ids: [Int]) -> [[Float]] {
    let cache = PagedKVCache(config: model.config, blockSize: 4, blockCount: ids.count / 4 + 2)
    var table: [Int32] = []
    #expect(cache.reserve(&table, tokens: ids.count))
    let logits = model.forward([ForwardChunk(tokens: ids.map(Int32.init), firstPosition: 0, blockTable: table, logitRows: .all)],
                               cache: cache)
    return (0..<logits.rows).map { Array(logits.row($0)) }
}

/// Worst logit error of `model` over every case of a goldens file.
func worstError(_ model: LlamaModel, goldens: TinyGoldens) -> Float {
    var worst: Float = 0
    for c in goldens.cases {
        let got = allLogits(model, c.ids)
        for (row, expected) in zip(got, c.logits) { worst = max(worst, maxAbsDifference(row, expected)) }
    }
    return worst
}

@Suite("The forward pass reproduces transformers' logits")
struct ForwardGoldenTests {
    // Tolerance: the tiny model's logits are O(1–10); fp32 with a different summation order
    // (BLAS blocking, FMA) stays within 1e-4 of PyTorch.
    static let tolerance: Float = 1e-4

    @Test("safetensors checkpoint: every position's logits within 1e-4 of transformers")
    func safetensors() throws {
        let model = try LlamaModel.load(path: Fixtures.path("tiny"))
        let goldens = try Fixtures.json("tiny/goldens.json", as: TinyGoldens.self)
        #expect(worstError(model, goldens: goldens) <= Self.tolerance)
    }

    @Test("GGUF f32 (q/k rows permuted by llama.cpp's converter) gives the same logits")
    func ggufF32() throws {
        let gguf = try LlamaModel.load(path: Fixtures.path("tiny/model-f32.gguf"))
        let hf = try LlamaModel.load(path: Fixtures.path("tiny"))
        let goldens = try Fixtures.json("tiny/goldens.json", as: TinyGoldens.self)
        #expect(worstError(gguf, goldens: goldens) <= Self.tolerance)
        // Both sources hold bit-identical weights after un-permuting, so the logits agree exactly.
        for c in goldens.cases { #expect(allLogits(gguf, c.ids) == allLogits(hf, c.ids)) }
        #expect(gguf.config.headDim == hf.config.headDim && gguf.config.kvHeadCount == hf.config.kvHeadCount)
    }

    @Test("GGUF f16 weights match transformers run on the same f16-rounded weights")
    func ggufF16() throws {
        let model = try LlamaModel.load(path: Fixtures.path("tiny/model-f16.gguf"))
        let goldens = try Fixtures.json("tiny/goldens-f16.json", as: TinyGoldens.self)
        #expect(worstError(model, goldens: goldens) <= Self.tolerance)
    }

    @Test("a sharded checkpoint loads the same model as a single file")
    func sharded() throws {
        let sharded = try LlamaModel.load(path: Fixtures.path("tiny-sharded"))
        let single = try LlamaModel.load(path: Fixtures.path("tiny"))
        let ids = [3, 1, 4, 1, 5, 9, 2, 6]
        #expect(allLogits(sharded, ids) == allLogits(single, ids))
    }

    @Test("llama3 rope scaling and tied embeddings (long sequence) match transformers")
    func ropeScaled() throws {
        let model = try LlamaModel.load(path: Fixtures.path("tiny-rope-scaled"))
        #expect(model.config.tiedEmbeddings)
        #expect(model.weights.outputHead.dense === model.weights.tokenEmbedding)
        let goldens = try Fixtures.json("tiny-rope-scaled/goldens.json", as: TinyGoldens.self)
        #expect(goldens.cases.contains { $0.ids.count >= 100 })
        #expect(worstError(model, goldens: goldens) <= Self.tolerance)
    }
}
