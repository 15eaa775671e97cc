import ModelFormats

extension TokenizerSpec {
    /// GGUF `tokenizer.ggml.token_type` values of tokens matched verbatim in text.
    private static let controlTokenType = 3
    private static let userDefinedTokenType = 4

    /// Reads the tokenizer embedded in GGUF metadata (`tokenizer.ggml.*`, written by llama.cpp's
    /// converter). Only byte-level BPE (`tokenizer.ggml.model` = "gpt2") is supported.
    public init(gguf metadata: [String: GGUFValue]) throws {
        func required<T>(_ key: String, _ expected: String, _ read: (GGUFValue) -> T?) throws -> T {
            guard let value = metadata[key] else { throw TokenizerError.missingMetadata(key: key) }
            guard let result = read(value) else { throw TokenizerError.invalidMetadata(key: key, expected: expected) }
            return result
        }
        func optional<T>(_ key: String, _ expected: String, _ read: (GGUFValue) -> T?) throws -> T? {
            guard metadata[key] != nil else { return nil }
            return try required(key, expected, read)
        }

        let model = try required("tokenizer.ggml.model", "a string", \.string)
        guard model == "gpt2" else { throw TokenizerError.unsupportedModel(model) }
        let pre = try required("tokenizer.ggml.pre", "a string", \.string)
        let preTokenizer = try Self.preTokenizerKind(ggufName: pre)

        let tokens = try required("tokenizer.ggml.tokens", "an array of strings", \.strings)
        let merges = try required("tokenizer.ggml.merges", "an array of strings", \.strings)
        let types = try optional("tokenizer.ggml.token_type", "an array of integers", \.ints) ?? []
        guard types.isEmpty || types.count == tokens.count else {
            throw TokenizerError.invalidMetadata(
                key: "tokenizer.ggml.token_type", expected: "one entry per token (\(tokens.count))")
        }
        let specialIDs = types.indices.filter {
            types[$0] == Self.controlTokenType || types[$0] == Self.userDefinedTokenType
        }
        self.init(
            tokens: tokens,
            merges: merges,
            specialTokenIDs: specialIDs,
            bosID: try optional("tokenizer.ggml.bos_token_id", "an integer", \.int),
            eosID: try optional("tokenizer.ggml.eos_token_id", "an integer", \.int),
            // Absent means no BOS: the converter writes the flag whenever the model adds one.
            addBOS: try optional("tokenizer.ggml.add_bos_token", "a bool", \.bool) ?? false,
            preTokenizer: preTokenizer,
            ignoreMerges: preTokenizer == .llama3,
            chatTemplate: try optional("tokenizer.chat_template", "a string", \.string))
    }

    /// Maps llama.cpp's pre-tokenizer names to the ones we implement exactly.
    static func preTokenizerKind(ggufName name: String) throws -> PreTokenizerKind {
        switch name {
        case "gpt2", "gpt-2": return .gpt2
        case "smollm": return .smollm
        case "llama3", "llama-v3", "llama-bpe": return .llama3
        default: throw TokenizerError.unsupportedPreTokenizer(name)
        }
    }
}
