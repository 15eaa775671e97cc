import Adapters
import Engine

/// Which endpoint a plan came from: decides the response and chunk formats.
enum Endpoint: Sendable {
    case completions
    case chat
}

/// A validated generation request: everything the engine needs, decided on the loop thread.
struct GenerationPlan: Sendable {
    let endpoint: Endpoint
    /// The `model` string as the client sent it (echoed in responses).
    let model: String
    /// The adapter version pinned for the whole request; nil for the base model.
    let adapter: AdapterUse?
    /// Token ids of each prompt (completions may send several; chat sends one).
    let prompts: [[Int]]
    /// Choices per prompt.
    let n: Int
    let parameters: SamplingParameters
    let stream: Bool
    /// `stream_options.include_usage`: a last chunk with usage and no choices.
    let includeUsage: Bool
    /// Alternatives per token in logprobs; nil when logprobs were not asked for.
    let logprobs: Int?
    /// Extension: return each choice's generated token ids.
    let returnTokenIDs: Bool
    /// Tenant the request counts against ("" without tenants).
    let tenant: String

    /// Number of choices in the response.
    var choiceCount: Int { prompts.count * n }

    /// The engine requests of every choice, numbered from `firstID`. Choice i = prompt i / n,
    /// sample i % n; with a seed, sample k uses seed + k so the n samples differ yet repeat.
    func engineRequests(firstID: UInt64) -> [EngineRequest] {
        var requests: [EngineRequest] = []
        for (p, prompt) in prompts.enumerated() {
            for k in 0..<n {
                var parameters = self.parameters
                if let seed = parameters.seed { parameters.seed = seed &+ UInt64(k) }
                requests.append(EngineRequest(id: RequestID(firstID + UInt64(p * n + k)), prompt: prompt,
                                              parameters: parameters, adapter: adapter, tenant: tenant))
            }
        }
        return requests
    }
}
