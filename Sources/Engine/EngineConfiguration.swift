/// Caps of the engine's continuous batching.
public struct EngineConfiguration: Sendable, Equatable {
    /// Most sequences in the running batch.
    public var maxRunning: Int
    /// Most tokens one step carries (decode rows first, then prefill chunks): a long prompt is
    /// prefilled in chunks of at most this many tokens so decoding never stalls behind it.
    public var maxStepTokens: Int
    /// Most requests waiting for admission; more are refused (HTTP 429).
    public var maxWaiting: Int
    /// Output tokens of KV cache each sequence is promised at admission (its `max_tokens` if
    /// smaller). A request is admitted only when every running sequence's promise and its own
    /// fit the pool, so sequences rarely outgrow it; one that does is preempted. Without this
    /// promise a full batch outgrows the pool together and preempts itself into thrashing.
    public var outputReserveTokens: Int

    /// Caps with serving defaults.
    public init(maxRunning: Int = 64, maxStepTokens: Int = 512, maxWaiting: Int = 1024, outputReserveTokens: Int = 512) {
        precondition(maxRunning > 0 && maxStepTokens > 0 && maxWaiting >= 0 && outputReserveTokens >= 0)
        self.maxRunning = maxRunning
        self.maxStepTokens = maxStepTokens
        self.maxWaiting = maxWaiting
        self.outputReserveTokens = outputReserveTokens
    }
}
