import Testing
import Llama
import TestSupport

@Suite("A sequence's logits do not depend on how its tokens are batched")
struct BatchingTests {
    @Test("prefill in chunks of 1, 3 and 7 tokens gives the one-chunk logits", arguments: [1, 3, 7])
    func chunkedPrefill(chunkSize: Int) throws {
        let model = try LlamaModel.load(path: Fixtures.path("tiny"))
        let goldens = try Fixtures.json("tiny/goldens.json", as: TinyGoldens.self)
        let ids = goldens.cases.first { $0.ids.count == 17 }!.ids
        let whole = allLogits(model, ids)

        let cache = PagedKVCache(config: model.config, blockSize: 4, blockCount: 16)
        var table: [Int32] = []
        var got: [[Float]] = []
        var start = 0
        while start < ids.count {
            let end = min(start + chunkSize, ids.count)
            #expect(cache.reserve(&table, tokens: end))
            let logits = model.forward([ForwardChunk(tokens: ids[start..<end].map(Int32.init), firstPosition: start,
                                                     blockTable: table, logitRows: .all)], cache: cache)
            got += (0..<logits.rows).map { Array(logits.row($0)) }
            start = end
        }
        // OpenBLAS picks its kernel by row count, so sums round differently at the last ulp:
        // logits of magnitude ~10 may move by ~1e-5, never more than 5e-5.
        for (a, b) in zip(got, whole) { #expect(maxAbsDifference(a, b) <= 5e-5) }
    }

    @Test("a step mixing prefill chunks and decode rows of other sequences gives each its own logits")
    func mixedStep() throws {
        let model = try LlamaModel.load(path: Fixtures.path("tiny"))
        let a = [5, 17, 200, 3, 9, 44, 1], b = [250, 2], c = [7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 100]
        let expected = [allLogits(model, a).last!, allLogits(model, b).last!, allLogits(model, c).last!]

        let cache = PagedKVCache(config: model.config, blockSize: 4, blockCount: 32)
        var tables: [[Int32]] = [[], [], []]
        // b and c have all but their last token cached already; a is prefilled whole in the same step.
        for (i, seq) in [b, c].enumerated() {
            #expect(cache.reserve(&tables[i + 1], tokens: seq.count))
            _ = model.forward([ForwardChunk(tokens: seq.dropLast().map(Int32.init), firstPosition: 0,
                                            blockTable: tables[i + 1], logitRows: .none)], cache: cache)
        }
        #expect(cache.reserve(&tables[0], tokens: a.count))
        let logits = model.forward([
            ForwardChunk(tokens: [Int32(b.last!)], firstPosition: b.count - 1, blockTable: tables[1], logitRows: .last),
            ForwardChunk(tokens: a.map(Int32.init), firstPosition: 0, blockTable: tables[0], logitRows: .last),
            ForwardChunk(tokens: [Int32(c.last!)], firstPosition: c.count - 1, blockTable: tables[2], logitRows: .last),
        ], cache: cache)
        #expect(logits.rows == 3)
        #expect(maxAbsDifference(Array(logits.row(0)), expected[1]) <= 5e-5)
        #expect(maxAbsDifference(Array(logits.row(1)), expected[0]) <= 5e-5)
        #expect(maxAbsDifference(Array(logits.row(2)), expected[2]) <= 5e-5)
    }

    @Test("the KV pool hands out and takes back blocks exactly")
    func blockAccounting() throws {
        let model = try LlamaModel.load(path: Fixtures.path("tiny"))
        let cache = PagedKVCache(config: model.config, blockSize: 16, blockCount: 4)
        var a: [Int32] = [], b: [Int32] = []
        #expect(cache.reserve(&a, tokens: 33))      // 3 blocks
        #expect(a.count == 3 && cache.freeBlockCount == 1)
        #expect(!cache.reserve(&b, tokens: 17))     // needs 2, only 1 free: no change
        #expect(b.isEmpty && cache.freeBlockCount == 1)
        cache.release(&a)
        #expect(a.isEmpty && cache.freeBlockCount == 4)
        #expect(cache.reserve(&b, tokens: 64) && cache.usedBlockCount == 4)
    }
}
