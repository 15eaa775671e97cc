import Testing
import Engine
import Llama
import Tokenizer
import TestSupport

/// The default model, loaded once for the whole suite (it takes ~0.5 s and 0.6 GB). The suite is
/// serialized because the logits a forward pass returns live in the model's scratch buffers.
let smolLM2: ModelBundle? = Fixtures.hasSmolLM2 ? try? ModelBundle.load(path: Fixtures.smolLM2Path) : nil

@Suite("SmolLM2-135M-Instruct (Q4_1 GGUF) end to end against transformers", .serialized,
       .enabled(if: Fixtures.hasSmolLM2, "models/SmolLM2-135M-Instruct.Q4_1.gguf is absent (run make model)"))
struct SmolLM2EndToEndTests {
    let goldens: SmolLM2Goldens

    init() throws { goldens = try Fixtures.json("smollm2/greedy.json") }

    @Test("prompt text tokenizes to transformers' input ids")
    func tokenization() throws {
        let bundle = try #require(smolLM2)
        for p in goldens.prompts { #expect(bundle.tokenizer.encode(p.text) == p.inputIDs, "\(p.text)") }
    }

    @Test("last-position logits: transformers' top 20 within 2e-3 (30 layers of fp32 on dequantized Q4_1)")
    func lastLogits() throws {
        let bundle = try #require(smolLM2)
        let model = bundle.model
        for p in goldens.prompts {
            let cache = PagedKVCache(config: model.config, blockCount: p.inputIDs.count / 16 + 2)
            var table: [Int32] = []
            _ = cache.reserve(&table, tokens: p.inputIDs.count)
            let logits = model.forward([ForwardChunk(tokens: p.inputIDs.map(Int32.init), firstPosition: 0,
                                                     blockTable: table, logitRows: .last)], cache: cache)
            let row = logits.row(0)
            var worst: Double = 0
            for pair in p.lastLogitsTop { worst = max(worst, abs(Double(row[Int(pair[0])]) - pair[1])) }
            #expect(worst <= 2e-3, "\(p.text): worst logit error \(worst)")
        }
    }

    @Test("greedy continuations equal transformers' 32 tokens, alone, four in one batch and twelve in one batch")
    func greedy() throws {
        let bundle = try #require(smolLM2)
        for p in goldens.prompts {
            let out = try generateTogether(bundle.model, prompts: [p.inputIDs], maxTokens: p.outputIDs.count)
            #expect(out[0] == p.outputIDs, "\(p.text)")
        }
        let together = try generateTogether(bundle.model, prompts: goldens.prompts.map(\.inputIDs),
                                            maxTokens: goldens.prompts[0].outputIDs.count, maxStepTokens: 16)
        #expect(together == goldens.prompts.map(\.outputIDs))
        // Three copies of each: 12 decode rows per step take the quantized panel kernel.
        let twelve = try generateTogether(bundle.model, prompts: Array(repeating: goldens.prompts.map(\.inputIDs), count: 3).flatMap { $0 },
                                          maxTokens: goldens.prompts[0].outputIDs.count)
        #expect(twelve == Array(repeating: goldens.prompts.map(\.outputIDs), count: 3).flatMap { $0 })
    }

    @Test("chat: the rendered ChatML prompt streams text that decodes the golden tokens, and stops at <|im_end|>")
    func chatText() throws {
        let bundle = try #require(smolLM2)
        let template = try bundle.chatTemplate()
        let prompt = template.render([ChatMessage(role: "user", content: "What is 2+2?")], addGenerationPrompt: true)
        let golden = try #require(goldens.prompts.first { $0.text == prompt })
        var parameters = SamplingParameters(maxTokens: 64)
        parameters.stopTokenIDs = bundle.defaultStopTokens
        let cache = PagedKVCache(config: bundle.model.config, blockCount: 16)
        let generator = Generator(model: bundle.model, cache: cache, tokenizer: bundle.tokenizer)
        _ = try generator.add(prompt: bundle.tokenizer.encode(prompt), parameters: parameters)
        var text = "", tokens: [Int] = [], finish: FinishReason?
        while generator.activeCount > 0 {
            for event in try generator.step() {
                switch event {
                case let .token(_, token, delta, _): tokens.append(token); text += delta
                case let .finished(_, reason, tail): text += tail; finish = reason
                case let .failed(_, error): Issue.record("generation failed: \(error)")
                }
            }
        }
        let eos = try #require(bundle.tokenizer.eosID)
        let expected = Array(golden.outputIDs.prefix { $0 != eos })
        #expect(Array(tokens.prefix(expected.count)) == expected)
        if golden.outputIDs.contains(eos) {
            #expect(finish == .stop && tokens.last == eos)
        }
        #expect(text == bundle.tokenizer.decode(expected))
    }
}
