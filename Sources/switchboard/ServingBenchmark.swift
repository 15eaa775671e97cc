import Engine
import Foundation
import Llama

/// The server's workload run straight through the generator: `clients` sequences at all times,
/// each a fresh random prompt of `promptLength` tokens generating exactly `outputLength`
/// tokens (no end-of-sequence stop), a new one joining as soon as one finishes — what N
/// closed-loop clients ask of the server, minus HTTP, JSON, tokenizing and threads.
///
/// Its generated tokens/s is the ceiling the server can reach on that workload; dividing the
/// server's rate by it gives the server's own overhead. (Dividing by pure batch-N decode
/// instead also charges the server for the prompts' prefill, which this workload includes.)
struct ServingBenchmark {
    let model: LlamaModel
    let clients: Int
    let promptLength: Int
    let outputLength: Int
    let maxStepTokens: Int
    /// Seconds run before measuring, so the batch reaches its steady mix of prefill and decode.
    let warmupSeconds: Double
    let seconds: Double

    struct Result {
        let tokensPerSecond: Double
        let requestsPerSecond: Double
        let meanStepTokens: Double
    }

    func run() throws -> Result {
        let perSequence = promptLength + outputLength
        let cache = PagedKVCache(config: model.config, blockCount: clients * (perSequence / 16 + 2))
        let generator = Generator(model: model, cache: cache, tokenizer: nil, maxStepTokens: maxStepTokens)
        var parameters = SamplingParameters(maxTokens: outputLength)
        parameters.stopTokenIDs = []
        var promptSeed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func nextPrompt() -> [Int] {
            (0..<promptLength).map { _ in
                promptSeed = promptSeed &* 6364136223846793005 &+ 1442695040888963407
                return Int((promptSeed >> 33) % UInt64(model.config.vocabularySize))
            }
        }
        for _ in 0..<clients { _ = try generator.add(prompt: nextPrompt(), parameters: parameters) }

        let start = now()
        var measuring = false, measureStart = start
        var tokens = 0, finished = 0, steps = 0, stepTokens = 0
        while true {
            let time = now()
            if !measuring && time - start >= warmupSeconds {
                measuring = true
                measureStart = time
            }
            if measuring && time - measureStart >= seconds { break }
            let events = try generator.step()
            if measuring {
                steps += 1
                stepTokens += generator.lastStepTokens
            }
            for event in events {
                switch event {
                case .token: if measuring { tokens += 1 }
                case .finished:
                    if measuring { finished += 1 }
                    _ = try generator.add(prompt: nextPrompt(), parameters: parameters)
                case let .failed(_, error): throw error
                }
            }
        }
        let elapsed = now() - measureStart
        return Result(tokensPerSecond: Double(tokens) / elapsed, requestsPerSecond: Double(finished) / elapsed,
                      meanStepTokens: Double(stepTokens) / Double(max(steps, 1)))
    }
}
