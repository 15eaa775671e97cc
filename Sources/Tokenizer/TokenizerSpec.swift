/// How text is cut into pieces before BPE runs on each piece.
public enum PreTokenizerKind: String, Sendable, Equatable, CaseIterable {
    /// The GPT-2 pattern `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// Every `\p{N}` character on its own first (HF `Digits(individual_digits: true)`), then GPT-2 on
    /// each remaining run. SmolLM's pre-tokenizer (llama.cpp pre-type "smollm").
    case smollm
    /// The Llama 3 pattern: case-insensitive contractions, one optional non-letter before letters,
    /// digits in groups of up to three, punctuation runs keeping trailing newlines.
    case llama3
}

/// Everything a byte-level BPE tokenizer needs, independent of the file format it came from.
public struct TokenizerSpec: Sendable, Equatable {
    /// Vocabulary strings by id, in GPT-2's byte-to-character form (`Ġ` is a space).
    public var tokens: [String]
    /// Merge rules `"left right"`; a rule's rank is its index (lower merges first).
    public var merges: [String]
    /// Ids matched verbatim in input text (e.g. `<|im_start|>`), and decoded as their raw text.
    public var specialTokenIDs: [Int]
    /// Beginning-of-sequence token, if the model has one.
    public var bosID: Int?
    /// End-of-sequence token, if the model has one.
    public var eosID: Int?
    /// Whether `encode` prepends `bosID` by default.
    public var addBOS: Bool
    /// How text is cut into pieces before BPE.
    public var preTokenizer: PreTokenizerKind
    /// When true, a piece that is itself a vocabulary token is emitted whole without merging
    /// (HF `ignore_merges`; Llama 3 sets it).
    public var ignoreMerges: Bool
    /// The model's Jinja chat template source, when the file carries one.
    public var chatTemplate: String?

    /// Creates a specification from its parts.
    public init(
        tokens: [String], merges: [String], specialTokenIDs: [Int] = [],
        bosID: Int? = nil, eosID: Int? = nil, addBOS: Bool = false,
        preTokenizer: PreTokenizerKind, ignoreMerges: Bool = false, chatTemplate: String? = nil
    ) {
        self.tokens = tokens
        self.merges = merges
        self.specialTokenIDs = specialTokenIDs
        self.bosID = bosID
        self.eosID = eosID
        self.addBOS = addBOS
        self.preTokenizer = preTokenizer
        self.ignoreMerges = ignoreMerges
        self.chatTemplate = chatTemplate
    }
}
