import Tokenizer

/// One sequence being generated: its tokens, cache blocks, sampler and text state.
struct ActiveSequence {
    let id: SequenceID
    let promptCount: Int
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

    init(id: SequenceID, prompt: [Int], parameters: SamplingParameters, tokenizer: BPETokenizer?) {
        self.id = id
        self.promptCount = prompt.count
        self.parameters = parameters
        tokens = prompt
        sampler = Sampler(parameters: parameters)
        detokenizer = tokenizer.map { IncrementalDetokenizer(tokenizer: $0) }
        stopMatcher = StopStringMatcher(parameters.stopStrings)
    }

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
