/// Everything that can go wrong while building a tokenizer or choosing a chat template.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A required GGUF metadata key is absent.
    case missingMetadata(key: String)
    /// A GGUF metadata key or tokenizer.json field holds a value of the wrong type or shape.
    case invalidMetadata(key: String, expected: String)
    /// The tokenizer is not byte-level BPE (e.g. a SentencePiece "llama" vocabulary).
    case unsupportedModel(String)
    /// The pre-tokenizer (GGUF `tokenizer.ggml.pre` or tokenizer.json `pre_tokenizer`) is not one we implement.
    case unsupportedPreTokenizer(String)
    /// tokenizer.json uses a feature we do not implement (a normalizer, BPE dropout, byte fallback…).
    case unsupportedFeature(String)
    /// tokenizer.json is not valid JSON or lacks a required field.
    case invalidTokenizerJSON(String)
    /// A merge rule is not two tokens separated by one space.
    case invalidMerge(index: Int, rule: String)
    /// A merge rule names a token, or produces a token, that is not in the vocabulary.
    case mergeTokenNotInVocabulary(index: Int, token: String)
    /// A special, BOS or EOS token id lies outside the vocabulary.
    case tokenIDOutOfRange(role: String, id: Int, vocabularySize: Int)
    /// The model has no chat template.
    case missingChatTemplate
    /// The chat template is not one we can render exactly.
    case unsupportedChatTemplate(String)

    /// A sentence saying what went wrong and, where it helps, what to do.
    public var description: String {
        switch self {
        case .missingMetadata(let key):
            return "GGUF metadata has no '\(key)' (the file may lack an embedded BPE tokenizer or come from an old converter)"
        case .invalidMetadata(let key, let expected):
            return "'\(key)' should be \(expected)"
        case .unsupportedModel(let model):
            return "tokenizer model '\(model)' is not supported; only byte-level BPE ('gpt2' in GGUF, 'BPE' in tokenizer.json) is"
        case .unsupportedPreTokenizer(let name):
            return "pre-tokenizer '\(name)' is not supported; supported: gpt2, smollm (individual digits + GPT-2), llama3"
        case .unsupportedFeature(let feature):
            return "tokenizer.json uses an unsupported feature: \(feature)"
        case .invalidTokenizerJSON(let reason):
            return "invalid tokenizer.json: \(reason)"
        case .invalidMerge(let index, let rule):
            return "merge rule #\(index) '\(rule)' is not two tokens separated by a space"
        case .mergeTokenNotInVocabulary(let index, let token):
            return "merge rule #\(index) uses or produces '\(token)', which is not in the vocabulary"
        case .tokenIDOutOfRange(let role, let id, let size):
            return "\(role) token id \(id) is outside the vocabulary of \(size) tokens"
        case .missingChatTemplate:
            return "the model has no chat template (tokenizer.chat_template); use the completions endpoint or a model with a template"
        case .unsupportedChatTemplate(let reason):
            return "unsupported chat template: \(reason); supported: ChatML (<|im_start|>, as in SmolLM2/Qwen) and Llama 3 (<|start_header_id|>)"
        }
    }
}
