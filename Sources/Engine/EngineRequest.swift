import Adapters

/// Identifies one generation request across the server and the engine thread.
public struct RequestID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    /// Wraps a raw id.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "req-\(rawValue)" }
}

/// One sequence to generate, as the server hands it to the engine thread: already tokenized,
/// validated, with its adapter version resolved (and pinned) at admission.
public struct EngineRequest: Sendable {
    public let id: RequestID
    public let prompt: [Int]
    public let parameters: SamplingParameters
    /// The adapter version and scale; nil runs the base model.
    public let adapter: AdapterUse?
    /// Fair-share key for admission (a tenant, or "" for everyone).
    public let tenant: String

    /// A request.
    public init(id: RequestID, prompt: [Int], parameters: SamplingParameters, adapter: AdapterUse?, tenant: String = "") {
        self.id = id
        self.prompt = prompt
        self.parameters = parameters
        self.adapter = adapter
        self.tenant = tenant
    }
}

/// What the engine reports about a request, delivered to the server's event loop in batches.
public enum EngineEvent: Sendable {
    /// The request left the waiting queue and joined the running batch.
    case admitted(RequestID)
    /// A generated token with the text it completes (possibly empty) and logprobs if asked.
    case token(RequestID, token: Int, text: String, logprobs: TokenLogprobs?)
    /// The request ended normally (stop, length) or was cancelled; `text` is held-back text.
    case finished(RequestID, reason: FinishReason, text: String, usage: TokenUsage)
    /// The request cannot be run; `message` is safe to show the client.
    case failed(RequestID, message: String)
}

/// Token counts of a finished request, as OpenAI's `usage` reports them.
public struct TokenUsage: Sendable, Equatable {
    /// Prompt tokens (without an adapter's virtual tokens).
    public let promptTokens: Int
    public let completionTokens: Int

    /// Counts.
    public init(promptTokens: Int, completionTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }
}

/// Why the engine refuses a request at submission.
public enum EngineError: Error, Equatable, Sendable {
    /// The waiting queue is full; retry after about `retryAfterSeconds`.
    case queueFull(retryAfterSeconds: Int)
    /// The engine is draining for shutdown.
    case draining
}

/// A consistent view of the engine's state, refreshed after every step.
public struct EngineSnapshot: Sendable, Equatable {
    public var running = 0
    public var waiting = 0
    public var kvBlocksUsed = 0
    public var kvBlocksFree = 0
    /// Tokens (rows) of the last step.
    public var lastStepTokens = 0
    public var steps = 0
    public var preemptions = 0
    public var generatedTokens = 0
    public var promptTokensProcessed = 0

    /// An empty snapshot.
    public init() {}
}
