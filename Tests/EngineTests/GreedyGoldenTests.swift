import Testing
import Engine
import Llama
import TestSupport

/// Runs `prompts` together in one generator (greedy, no stop tokens) and returns each output.
func generateTogether(_ model: LlamaModel, prompts: [[Int]], maxTokens: Int, maxStepTokens: Int = 512,
                      blockSize: Int = 16) throws -> [[Int]] {
    let cache = PagedKVCache(config: model.config, blockSize: blockSize, blockCount: 256)
    let generator = Generator(model: model, cache: cache, tokenizer: nil, maxStepTokens: maxStepTokens)
    var ids: [SequenceID] = []
    for p in prompts { ids.append(try generator.add(prompt: p, parameters: SamplingParameters(maxTokens: maxTokens))) }
    var outputs = [SequenceID: [Int]]()
    while generator.activeCount > 0 {
        for case let .token(id, token, _, _) in try generator.step() { outputs[id, default: []].append(token) }
    }
    #expect(cache.usedBlockCount == 0, "finished sequences return their blocks")
    return ids.map { outputs[$0] ?? [] }
}

@Suite("Greedy generation reproduces transformers token for token")
struct GreedyGoldenTests {
    @Test("tiny model: each greedy continuation equals transformers'")
    func tinyAlone() throws {
        let model = try LlamaModel.load(path: Fixtures.path("tiny"))
        let goldens = try Fixtures.json("tiny/goldens.json", as: TinyGoldens.self)
        for g in goldens.greedy {
            let out = try generateTogether(model, prompts: [g.promptIDs], maxTokens: g.outputIDs.count)
            #expect(out[0] == g.outputIDs, "prompt \(g.promptIDs)")
        }
    }

    @Test("tiny model: the same continuations when all run in one batch with a 5-token step budget")
    func tinyBatched() throws {
        let model = try LlamaModel.load(path: Fixtures.path("tiny"))
        let goldens = try Fixtures.json("tiny/goldens.json", as: TinyGoldens.self)
        let out = try generateTogether(model, prompts: goldens.greedy.map(\.promptIDs),
                                       maxTokens: goldens.greedy[0].outputIDs.count, maxStepTokens: 5, blockSize: 4)
        #expect(out == goldens.greedy.map(\.outputIDs))
    }
}
