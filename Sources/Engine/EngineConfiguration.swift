/// Caps of the engine's continuous batching.
public struct EngineConfiguration: Sendable, Equatable {
    /// Most sequences in the running batch.
    public var maxRunning: Int
    /// Most tokens one step carries (decode rows first, then prefill chunks): a long prompt is
    /// prefilled in chunks of at most this many tokens so decoding never stalls behind it.
    public var maxStepTokens: Int
    /// Most requests waiting for admission; more are refused (HTTP 429).
    public var maxWaiting: Int

    /// Caps with serving defaults.
    public init(maxRunning: Int = 64, maxStepTokens: Int = 512, maxWaiting: Int = 1024) {
        precondition(maxRunning > 0 && maxStepTokens > 0 && maxWaiting >= 0)
        self.maxRunning = maxRunning
        self.maxStepTokens = maxStepTokens
        self.maxWaiting = maxWaiting
    }
}
