import Adapters
import Kernels
import Engine
import Foundation
import Llama
import TestSupport

/// The fixture adapters (Tests/Fixtures/adapters/NAME), one of every kind PEFT saves.
let fixtureAdapterNames = ["lora", "lora-all", "rslora", "dora", "ia3", "prefix", "prefix-proj", "prompt", "lora-bf16"]

/// The seed-0 tiny Llama the fixture adapters were made on.
func tinyModel() throws -> LlamaModel { try LlamaModel.load(path: Fixtures.path("tiny")) }

/// Loads fixture adapter `name` for `model`.
func fixtureAdapter(_ name: String, model: LlamaModel, version: Int = 1,
                    precision: FactorPrecision = .f32) throws -> Adapter {
    try AdapterLoader.load(directory: Fixtures.path("adapters/\(name)"), name: name, version: version,
                           base: model.adapterShape, weights: model, limits: AdapterLimits(precision: precision))
}

/// Logits of every real token of `ids` run alone with `use`, as PEFT reports them: the virtual
/// tokens of prefix/prompt tuning come first and are not part of the result.
func adapterLogits(_ model: LlamaModel, _ use: AdapterUse?, _ ids: [Int]) -> [[Float]] {
    let virtual = use?.adapter.virtualTokenCount ?? 0
    let cache = PagedKVCache(config: model.config, blockSize: 4, blockCount: (virtual + ids.count) / 4 + 2)
    var table: [Int32] = []
    _ = cache.reserve(&table, tokens: virtual + ids.count)
    var tokens = ids.map(Int32.init), first = 0, skip = 0
    if let adapter = use?.adapter, adapter.prefixKV != nil {
        model.writePrefix(of: adapter, blockTable: table, cache: cache)
        first = virtual
    } else if virtual > 0 {
        tokens = [Int32](repeating: 0, count: virtual) + tokens
        skip = virtual
    }
    let logits = model.forward([ForwardChunk(tokens: tokens, firstPosition: first, blockTable: table, logitRows: .all,
                                             adapter: use)], cache: cache)
    return (skip..<logits.rows).map { Array(logits.row($0)) }
}

/// Greedy continuations of several requests run together in one generator, each with its own adapter.
func generateTogether(_ model: LlamaModel, requests: [(prompt: [Int], adapter: AdapterUse?)], maxTokens: Int,
                      maxStepTokens: Int = 512) throws -> [[Int]] {
    let cache = PagedKVCache(config: model.config, blockSize: 4, blockCount: 512)
    let generator = Generator(model: model, cache: cache, tokenizer: nil, maxStepTokens: maxStepTokens)
    var ids: [SequenceID] = []
    for r in requests {
        ids.append(try generator.add(prompt: r.prompt, parameters: SamplingParameters(maxTokens: maxTokens), adapter: r.adapter))
    }
    var outputs = [SequenceID: [Int]]()
    while generator.activeCount > 0 {
        for case let .token(id, token, _, _) in try generator.step() { outputs[id, default: []].append(token) }
    }
    precondition(cache.usedBlockCount == 0, "finished sequences return their blocks")
    return ids.map { outputs[$0] ?? [] }
}

/// A scratch directory removed when the value goes away.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "switchboard-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Copies fixture adapter `name` into a subdirectory and returns its path.
    func copyOfFixture(_ name: String, as folder: String? = nil) throws -> String {
        let target = path + "/" + (folder ?? name)
        try FileManager.default.copyItem(atPath: Fixtures.path("adapters/\(name)"), toPath: target)
        return target
    }
}
