import Foundation

extension TokenizerSpec {
    /// The Llama 3 pre-tokenizer regex as HF's tokenizer.json writes it in its `Split` step.
    static let llama3Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// Reads a Hugging Face `tokenizer.json` (a byte-level BPE model) and, when given, the
    /// `tokenizer_config.json` beside it, which names the BOS/EOS tokens and holds the chat template.
    ///
    /// Every added token is matched verbatim in text. Without a config, BOS comes from a
    /// `TemplateProcessing` post-processor that starts with a special token, and there is no EOS.
    public init(tokenizerJSON: Data, tokenizerConfigJSON: Data? = nil) throws {
        let root = try Self.jsonObject(tokenizerJSON, "tokenizer.json")
        guard let model = root["model"] as? [String: Any] else {
            throw TokenizerError.invalidTokenizerJSON("no 'model' object")
        }
        let modelType = model["type"] as? String ?? "BPE"
        guard modelType == "BPE" else { throw TokenizerError.unsupportedModel(modelType) }
        try Self.rejectUnsupportedFeatures(root, model)
        guard let vocabulary = model["vocab"] as? [String: Any] else {
            throw TokenizerError.invalidTokenizerJSON("'model.vocab' is not an object of token → id")
        }

        // Vocabulary and added tokens together give the id space; ids nobody names stay "".
        var named: [(id: Int, text: String)] = []
        named.reserveCapacity(vocabulary.count)
        for (text, value) in vocabulary {
            guard let id = Self.integer(value), id >= 0 else {
                throw TokenizerError.invalidTokenizerJSON("id of vocabulary token '\(text)' is not a non-negative integer")
            }
            named.append((id, text))
        }
        var added: [(id: Int, text: String)] = []
        for case let entry as [String: Any] in root["added_tokens"] as? [Any] ?? [] {
            guard let id = entry["id"].flatMap(Self.integer), id >= 0, let text = entry["content"] as? String else {
                throw TokenizerError.invalidTokenizerJSON("an added token lacks 'id' or 'content'")
            }
            added.append((id, text))
        }
        let size = (named + added).map { $0.id + 1 }.max() ?? 0
        var tokens = [String](repeating: "", count: size)
        for (id, text) in named + added { tokens[id] = text }

        let merges = try Self.merges(model["merges"])
        let preTokenizer = try Self.preTokenizerKind(json: root["pre_tokenizer"])
        let config = try tokenizerConfigJSON.map { try Self.jsonObject($0, "tokenizer_config.json") }
        func id(ofConfigToken key: String) -> Int? {
            let entry = config?[key]
            guard let text = (entry as? String) ?? ((entry as? [String: Any])?["content"] as? String) else { return nil }
            return added.first(where: { $0.text == text })?.id ?? vocabulary[text].flatMap(Self.integer)
        }
        let templateBOS = Self.postProcessorBOS(root["post_processor"])
        let bosID = id(ofConfigToken: "bos_token") ?? templateBOS
        let addBOS = (config?["add_bos_token"] as? Bool) ?? (templateBOS != nil)

        self.init(
            tokens: tokens, merges: merges, specialTokenIDs: added.map(\.id).sorted(),
            bosID: bosID, eosID: id(ofConfigToken: "eos_token"), addBOS: addBOS,
            preTokenizer: preTokenizer, ignoreMerges: model["ignore_merges"] as? Bool ?? false,
            chatTemplate: Self.chatTemplate(config?["chat_template"]))
    }

    private static func jsonObject(_ data: Data, _ name: String) throws -> [String: Any] {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw TokenizerError.invalidTokenizerJSON("\(name) is not JSON: \(error)")
        }
        guard let object = parsed as? [String: Any] else {
            throw TokenizerError.invalidTokenizerJSON("\(name) is not a JSON object")
        }
        return object
    }

    private static func integer(_ value: Any) -> Int? {
        if let int = value as? Int { return int }
        if let double = value as? Double { return Int(exactly: double) }
        return nil
    }

    /// Rejects options that would change the output in ways we do not implement.
    private static func rejectUnsupportedFeatures(_ root: [String: Any], _ model: [String: Any]) throws {
        if let normalizer = root["normalizer"], !(normalizer is NSNull) {
            throw TokenizerError.unsupportedFeature("normalizer \(describe(normalizer))")
        }
        if let dropout = model["dropout"].flatMap({ $0 as? Double }), dropout > 0 {
            throw TokenizerError.unsupportedFeature("BPE dropout \(dropout)")
        }
        if model["byte_fallback"] as? Bool == true {
            throw TokenizerError.unsupportedFeature("byte_fallback (a SentencePiece-style BPE, not byte-level)")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let affix = model[key] as? String, !affix.isEmpty {
                throw TokenizerError.unsupportedFeature("\(key) '\(affix)'")
            }
        }
    }

    /// Merges as `"left right"` strings, from either the string or the pair form.
    private static func merges(_ value: Any?) throws -> [String] {
        guard let list = value as? [Any] else {
            throw TokenizerError.invalidTokenizerJSON("'model.merges' is not an array")
        }
        return try list.enumerated().map { index, entry in
            if let rule = entry as? String { return rule }
            if let pair = entry as? [String], pair.count == 2 { return pair[0] + " " + pair[1] }
            throw TokenizerError.invalidMerge(index: index, rule: describe(entry))
        }
    }

    /// Recognizes the pre-tokenizer pipelines we implement exactly.
    static func preTokenizerKind(json value: Any?) throws -> PreTokenizerKind {
        guard let step = value as? [String: Any] else {
            throw TokenizerError.unsupportedPreTokenizer("none (byte-level BPE needs a ByteLevel pre-tokenizer)")
        }
        func isByteLevel(_ step: [String: Any], usesRegex: Bool) -> Bool {
            step["type"] as? String == "ByteLevel"
                && (step["add_prefix_space"] as? Bool ?? false) == false
                && (step["use_regex"] as? Bool ?? true) == usesRegex
        }
        if isByteLevel(step, usesRegex: true) { return .gpt2 }
        if step["type"] as? String == "Sequence", let steps = step["pretokenizers"] as? [[String: Any]], steps.count == 2 {
            let first = steps[0]
            if first["type"] as? String == "Digits", first["individual_digits"] as? Bool == true,
               isByteLevel(steps[1], usesRegex: true) {
                return .smollm
            }
            if first["type"] as? String == "Split",
               (first["pattern"] as? [String: Any])?["Regex"] as? String == llama3Pattern,
               first["behavior"] as? String == "Isolated", first["invert"] as? Bool ?? false == false,
               isByteLevel(steps[1], usesRegex: false) {
                return .llama3
            }
        }
        throw TokenizerError.unsupportedPreTokenizer(describe(step))
    }

    /// The BOS a `TemplateProcessing` post-processor puts first, if it does.
    private static func postProcessorBOS(_ value: Any?) -> Int? {
        guard let step = value as? [String: Any] else { return nil }
        if step["type"] as? String == "Sequence" {
            for case let inner as [String: Any] in step["processors"] as? [Any] ?? [] {
                if let id = postProcessorBOS(inner) { return id }
            }
            return nil
        }
        guard step["type"] as? String == "TemplateProcessing",
              let first = (step["single"] as? [[String: Any]])?.first,
              let name = (first["SpecialToken"] as? [String: Any])?["id"] as? String,
              let special = (step["special_tokens"] as? [String: Any])?[name] as? [String: Any],
              let id = (special["ids"] as? [Any])?.first.flatMap(integer)
        else { return nil }
        return id
    }

    /// The chat template from tokenizer_config.json: a string, or the "default" of a named list.
    private static func chatTemplate(_ value: Any?) -> String? {
        if let template = value as? String { return template }
        let named = value as? [[String: Any]] ?? []
        return named.first(where: { $0["name"] as? String == "default" })?["template"] as? String
    }

    private static func describe(_ value: Any) -> String {
        guard JSONSerialization.isValidJSONObject(value),
              let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) else {
            return String(describing: value)
        }
        let text = String(decoding: data, as: UTF8.self)
        return text.count > 300 ? String(text.prefix(300)) + "…" : text
    }
}
