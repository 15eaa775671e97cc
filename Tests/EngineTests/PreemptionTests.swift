import Engine
import Foundation
import Llama
import Testing
import TestSupport

@Suite("When the KV pool runs out")
struct PreemptionTests {
    @Test("the youngest sequence is preempted and recomputed later; every output still equals transformers'")
    func preemptYoungest() throws {
        let model = try LlamaModel.load(path: Fixtures.path("tiny"))
        let goldens = try Fixtures.json("tiny/goldens.json", as: TinyGoldens.self)
        // 4-token blocks; 14 blocks hold 56 positions, far less than all prompts plus outputs together.
        let cache = PagedKVCache(config: model.config, blockSize: 4, blockCount: 14)
        let generator = Generator(model: model, cache: cache, tokenizer: nil, maxStepTokens: 64)
        let prompts = goldens.greedy.map(\.promptIDs) + goldens.greedy.map(\.promptIDs)
        let length = goldens.greedy[0].outputIDs.count
        let ids = try prompts.map { try generator.add(prompt: $0, parameters: SamplingParameters(maxTokens: length)) }
        var outputs = [SequenceID: [Int]]()
        while generator.activeCount > 0 {
            for event in try generator.step() {
                switch event {
                case let .token(id, token, _, _): outputs[id, default: []].append(token)
                case .finished: break
                case let .failed(id, error): Issue.record("\(id) failed: \(error)")
                }
            }
        }
        #expect(generator.preemptionCount > 0, "the pool was meant to run out")
        for (k, id) in ids.enumerated() {
            #expect(outputs[id] == goldens.greedy[k % goldens.greedy.count].outputIDs, "sequence \(k)")
        }
        #expect(cache.usedBlockCount == 0)
    }

    @Test("a sequence holding no blocks waits for room instead of preempting a running one")
    func newcomerWaits() throws {
        let model = try LlamaModel.load(path: Fixtures.path("tiny"))
        let golden = try Fixtures.json("tiny/goldens.json", as: TinyGoldens.self).greedy[2]   // 12 + 24 tokens
        // 9 blocks of 4 hold the first sequence at its peak and nothing more.
        let cache = PagedKVCache(config: model.config, blockSize: 4, blockCount: 9)
        let generator = Generator(model: model, cache: cache, tokenizer: nil, maxStepTokens: 64)
        let parameters = SamplingParameters(maxTokens: golden.outputIDs.count)
        let first = try generator.add(prompt: golden.promptIDs, parameters: parameters)
        var outputs = [SequenceID: [Int]]()
        func step() throws {
            for event in try generator.step() {
                if case let .token(id, token, _, _) = event { outputs[id, default: []].append(token) }
                if case let .failed(id, error) = event { Issue.record("\(id) failed: \(error)") }
            }
        }
        for _ in 0..<20 { try step() }   // 32 tokens in 8 blocks: one block left, the newcomer's prompt needs 3
        let second = try generator.add(prompt: golden.promptIDs, parameters: parameters)
        while outputs[first, default: []].count < golden.outputIDs.count {
            try step()
            #expect(outputs[second] == nil, "the newcomer waits until the first sequence is done")
        }
        while generator.activeCount > 0 { try step() }
        #expect(generator.preemptionCount == 0)
        #expect(outputs[first] == golden.outputIDs && outputs[second] == golden.outputIDs)
    }

    @Test("a sequence that cannot fit even alone fails with cacheExhausted; the others finish")
    func tooBigAlone() throws {
        let model = try LlamaModel.load(path: Fixtures.path("tiny"))
        let cache = PagedKVCache(config: model.config, blockSize: 4, blockCount: 3)
        let generator = Generator(model: model, cache: cache, tokenizer: nil)
        let small = try generator.add(prompt: [1, 2, 3], parameters: SamplingParameters(maxTokens: 4))
        let big = try generator.add(prompt: Array(repeating: 5, count: 20), parameters: SamplingParameters(maxTokens: 4))
        var failedIDs: [SequenceID] = [], finishedIDs: [SequenceID] = []
        while generator.activeCount > 0 {
            for event in try generator.step() {
                if case let .failed(id, error) = event {
                    failedIDs.append(id)
                    guard case .cacheExhausted = error else { Issue.record("wrong error \(error)"); continue }
                }
                if case let .finished(id, _, _) = event { finishedIDs.append(id) }
            }
        }
        #expect(failedIDs == [big])
        #expect(finishedIDs == [small])
    }
}

@Suite("Log-probabilities")
struct LogprobTests {
    @Test("the chosen token's logprob and the top alternatives are the log-softmax of the logits")
    func logSoftmax() {
        let logits: [Float] = [1.5, -2, 0.25, 3, 3, -0.5]
        let result = logits.withUnsafeBufferPointer { TokenLogprobs(logits: $0, chosen: 2, top: 3) }
        let normalizer = log(logits.map { exp(Double($0)) }.reduce(0, +))
        #expect(abs(Double(result.logprob) - (0.25 - normalizer)) < 1e-5)
        #expect(result.top.map(\.token) == [3, 4, 0], "ties keep the lower id first")
        #expect(abs(Double(result.top[2].logprob) - (1.5 - normalizer)) < 1e-5)
    }
}
