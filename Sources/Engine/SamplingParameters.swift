/// How one request picks its tokens and when it stops.
public struct SamplingParameters: Sendable, Equatable {
    /// 0 means greedy (argmax).
    public var temperature: Float = 0
    /// Keep only the k most likely tokens; 0 disables.
    public var topK: Int = 0
    /// Keep the smallest set of tokens whose probability reaches p; 1 disables.
    public var topP: Float = 1
    /// Seed of the request's random stream; nil picks one at random.
    public var seed: UInt64? = nil
    /// Most tokens to generate.
    public var maxTokens: Int = 256
    /// Tokens that end generation (not emitted as text).
    public var stopTokenIDs: Set<Int> = []
    /// Strings that end generation (the text up to them is emitted, the string is not).
    public var stopStrings: [String] = []
    /// OpenAI presence penalty: subtracted once from every token already generated.
    public var presencePenalty: Float = 0
    /// OpenAI frequency penalty: subtracted per occurrence of a token already generated.
    public var frequencyPenalty: Float = 0
    /// Report each token's log-probability and this many most likely alternatives; nil: none.
    public var logprobs: Int? = nil

    /// Greedy decoding of up to `maxTokens` tokens.
    public init(maxTokens: Int = 256) { self.maxTokens = maxTokens }

    /// True when no randomness is involved.
    public var isGreedy: Bool { temperature <= 0 }
}

/// Why a sequence stopped.
public enum FinishReason: String, Sendable, Equatable {
    /// A stop token or stop string.
    case stop
    /// max tokens or the context limit.
    case length
    /// The client went away or the request was cancelled.
    case cancelled
}
