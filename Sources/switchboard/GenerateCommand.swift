import Adapters
import ArgumentParser
import Engine
import Foundation
import Kernels
import Llama
import Tokenizer

/// `switchboard generate`: streams the continuation of one prompt to stdout.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Generate text for one prompt; only the text goes to stdout.")

    @Option(help: "A .gguf file or a Hugging Face model directory (default: \(defaultModelPath)).")
    var model: String?
    @Option(help: "The prompt. Special tokens such as <|im_start|> may be written as text.")
    var prompt: String
    @Flag(help: "Wrap the prompt as a user message in the model's chat template.")
    var chat = false
    @Option(name: .long, help: "Most tokens to generate.")
    var maxTokens = 128
    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0
    @Option(name: .long, help: "Keep only the k most likely tokens (0: off).")
    var topK = 0
    @Option(name: .long, help: "Nucleus sampling mass (1: off).")
    var topP: Float = 1
    @Option(help: "Random seed for reproducible sampling.")
    var seed: UInt64?
    @Option(name: .long, help: "Stop when this string appears (repeatable).")
    var stop: [String] = []
    @Option(help: "A PEFT adapter directory (LoRA, DoRA, IA³, prefix or prompt tuning) to apply.")
    var adapter: String?
    @Option(name: .long, help: "Multiplier on a LoRA/DoRA adapter's delta (1: as trained).")
    var adapterScale: Float = 1
    @Option(name: .long, help: "Storage of LoRA/DoRA factors a file holds in f32: f32, f16 or bf16 (16-bit files stay as stored).")
    var adapterPrecision: FactorPrecision = .f32
    @Flag(name: .long, help: "Print the generated token ids to stderr at the end.")
    var printTokens = false

    func validate() throws {
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be 0 (greedy) or more") }
        guard topK >= 0 else { throw ValidationError("--top-k must be 0 (off) or more") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard adapterScale.isFinite else { throw ValidationError("--adapter-scale must be a finite number") }
    }

    func run() throws {
        let log = makeLogger("switchboard.generate")
        let start = now()
        let bundle = try ModelBundle.load(path: try resolveModelPath(model))
        log.info("loaded \(bundle.model.config.name) in \(String(format: "%.2f", now() - start)) s")
        var use: AdapterUse?
        if let adapter {
            let adapterStart = now()
            let name = URL(fileURLWithPath: adapter).lastPathComponent
            let loaded = try bundle.loadAdapter(directory: adapter, name: name,
                                                limits: AdapterLimits(precision: adapterPrecision))
            use = AdapterUse(loaded, scale: adapterScale)
            log.info("adapter \(loaded.name): \(loaded.kind.rawValue), rank \(loaded.rank), \(loaded.byteCount / 1024) KiB, loaded in \(String(format: "%.3f", now() - adapterStart)) s")
        }

        let promptTokens = chat ? try bundle.chatPromptTokens([ChatMessage(role: "user", content: prompt)])
                                : bundle.tokenizer.encode(prompt)
        var parameters = SamplingParameters(maxTokens: maxTokens)
        parameters.temperature = temperature
        parameters.topK = topK
        parameters.topP = topP
        parameters.seed = seed
        parameters.stopStrings = stop
        parameters.stopTokenIDs = bundle.defaultStopTokens

        let cache = PagedKVCache(config: bundle.model.config,
                                 blockCount: (promptTokens.count + maxTokens + (use?.adapter.virtualTokenCount ?? 0)) / 16 + 2)
        let generator = Generator(model: bundle.model, cache: cache, tokenizer: bundle.tokenizer)
        let id = try generator.add(prompt: promptTokens, parameters: parameters, adapter: use)
        var generated: [Int] = []
        var firstTokenAt: Double?
        let generationStart = now()
        var reason = FinishReason.length
        while generator.activeCount > 0 {
            for event in try generator.step() {
                switch event {
                case let .token(sequence, token, text, _) where sequence == id:
                    if firstTokenAt == nil { firstTokenAt = now() }
                    generated.append(token)
                    writeOut(text)
                case let .finished(_, why, text):
                    writeOut(text)
                    reason = why
                case let .failed(_, error):
                    throw error
                default: break
                }
            }
        }
        writeOut("\n")
        let end = now()
        let decodeSeconds = end - (firstTokenAt ?? end)
        log.info("\(promptTokens.count) prompt tokens, \(generated.count) generated, finish: \(reason.rawValue); time to first token \(String(format: "%.3f", (firstTokenAt ?? end) - generationStart)) s, decode \(String(format: "%.1f", Double(max(generated.count - 1, 0)) / max(decodeSeconds, 1e-9))) tokens/s")
        if printTokens { FileHandle.standardError.write(Data("tokens: \(generated)\n".utf8)) }
    }

    private func writeOut(_ text: String) {
        guard !text.isEmpty else { return }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
