import Adapters
import Tokenizer

/// One sequence being generated: its tokens, cache blocks, sampler and text state.
struct ActiveSequence {
    let id: SequenceID
    /// Tokens before the first generated one: the adapter's virtual tokens, then the prompt.
    let promptCount: Int
    /// The adapter this sequence runs with, pinned for its whole life.
    let adapter: AdapterUse?
    /// Prefix- or prompt-tuning virtual tokens at positions 0..<virtualCount (placeholders in `tokens`).
    let virtualCount: Int
    let parameters: SamplingParameters
    /// Prompt followed by generated tokens.
    var tokens: [Int]
    /// Leading tokens whose keys and values are in the cache.
    var cachedCount = 0
    var blockTable: [Int32] = []
    var sampler: Sampler
    var detokenizer: IncrementalDetokenizer?
    var stopMatcher: StopStringMatcher
    /// A stop string matched: nothing more is emitted.
    var stoppedByString = false

    init(id: SequenceID, prompt: [Int], parameters: SamplingParameters, adapter: AdapterUse?, tokenizer: BPETokenizer?) {
        self.id = id
        self.adapter = adapter
        virtualCount = adapter?.adapter.virtualTokenCount ?? 0
        // Virtual positions hold a placeholder id: the forward pass takes their embeddings
        // (prompt tuning) or their keys and values (prefix tuning) from the adapter.
        tokens = [Int](repeating: 0, count: virtualCount) + prompt
        promptCount = tokens.count
        self.parameters = parameters
        sampler = Sampler(parameters: parameters)
        detokenizer = tokenizer.map { IncrementalDetokenizer(tokenizer: $0) }
        stopMatcher = StopStringMatcher(parameters.stopStrings)
    }

    /// Whether the adapter's prefix keys and values must be written before the first chunk
    /// (a new sequence, or one whose cache was dropped).
    var needsPrefix: Bool { cachedCount == 0 && adapter?.adapter.prefixKV != nil }

    /// Tokens still to run through the model.
    var pendingCount: Int { tokens.count - cachedCount }
    /// Tokens generated so far.
    var generatedCount: Int { tokens.count - promptCount }

    /// Takes a sampled token; returns the text it completes and whether the sequence ends.
    mutating func accept(token: Int, contextLength: Int) -> (text: String, finish: FinishReason?) {
        tokens.append(token)
        sampler.observe(token)
        if parameters.stopTokenIDs.contains(token) { return ("", .stop) }
        var text = ""
        if detokenizer != nil {
            let (emit, stopped) = stopMatcher.feed(detokenizer!.append(token))
            text = emit
            if stopped { stoppedByString = true; return (text, .stop) }
        }
        if generatedCount >= parameters.maxTokens || tokens.count >= contextLength { return (text, .length) }
        return (text, nil)
    }

    /// Text still held at the end.
    mutating func flush() -> String {
        guard detokenizer != nil, !stoppedByString else { return "" }
        let tail = detokenizer!.flush()
        let (emit, _) = stopMatcher.feed(tail)
        return emit + stopMatcher.flush()
    }
}
