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

@Suite("Q4_1/Q8_0 weights read by the quantized kernels reproduce transformers")
struct QuantizedForwardTests {
    static let tolerance: Float = 1e-4

    @Test("whole sequences (panel kernel) within 1e-4 of transformers on the dequantized weights")
    func wholeSequences() throws {
        let model = try LlamaModel.load(path: Fixtures.path("tiny/model-q.gguf"))
        #expect(model.weights.layers.allSatisfy { $0.qkv.quantized?.type == .q4_1 && $0.down.quantized?.type == .q4_1 })
        #expect(model.weights.outputHead.quantized?.type == .q8_0)
        let goldens = try Fixtures.json("tiny/goldens-q.json", as: TinyGoldens.self)
        #expect(worstError(model, goldens: goldens) <= Self.tolerance)
    }

    @Test("token-by-token decoding of one and of two sequences (one-pass kernel) within 1e-4")
    func decodeRows() throws {
        let model = try LlamaModel.load(path: Fixtures.path("tiny/model-q.gguf"))
        let goldens = try Fixtures.json("tiny/goldens-q.json", as: TinyGoldens.self)
        let a = try #require(goldens.cases.first { $0.ids.count == 17 })
        let b = try #require(goldens.cases.first { $0.ids.count == 40 })
        for sequences in [[a], [a, b]] {
            let cache = PagedKVCache(config: model.config, blockSize: 4, blockCount: 32)
            var tables = [[Int32]](repeating: [], count: sequences.count)
            var worst: Float = 0
            for position in 0..<a.ids.count {
                var chunks: [ForwardChunk] = []
                for (s, c) in sequences.enumerated() {
                    #expect(cache.reserve(&tables[s], tokens: position + 1))
                    chunks.append(ForwardChunk(tokens: [Int32(c.ids[position])], firstPosition: position,
                                               blockTable: tables[s], logitRows: .last))
                }
                let logits = model.forward(chunks, cache: cache)
                for (s, c) in sequences.enumerated() {
                    worst = max(worst, maxAbsDifference(Array(logits.row(s)), c.logits[position]))
                }
            }
            #expect(worst <= Self.tolerance, "\(sequences.count) sequence(s)")
        }
    }
}
