import Foundation
import ModelFormats
import Testing
import Tokenizer

/// Minimal GGUF tokenizer metadata for a tiny vocabulary.
private func tinyMetadata(_ vocabulary: TinyVocabulary) -> [String: GGUFValue] {
    let spec = vocabulary.spec()
    var types = [GGUFValue](repeating: .int32(1), count: spec.tokens.count)
    for id in spec.specialTokenIDs { types[id] = .int32(3) }
    return [
        "tokenizer.ggml.model": .string("gpt2"),
        "tokenizer.ggml.pre": .string("smollm"),
        "tokenizer.ggml.tokens": .array(spec.tokens.map(GGUFValue.string)),
        "tokenizer.ggml.merges": .array(spec.merges.map(GGUFValue.string)),
        "tokenizer.ggml.token_type": .array(types),
        "tokenizer.ggml.bos_token_id": .uint32(1),
        "tokenizer.ggml.eos_token_id": .uint32(UInt32(spec.specialTokenIDs[0])),
        "tokenizer.ggml.add_bos_token": .bool(false),
        "tokenizer.chat_template": .string("{{ '<|im_start|>' }}"),
    ]
}

/// A tokenizer.json for a tiny vocabulary, with merges in the pair form.
private func tinyTokenizerJSON(_ vocabulary: TinyVocabulary, preTokenizer: Any, extra: [String: Any] = [:]) throws -> Data {
    let spec = vocabulary.spec()
    var vocab: [String: Int] = [:]
    for (id, token) in spec.tokens.enumerated() where !spec.specialTokenIDs.contains(id) { vocab[token] = id }
    var root: [String: Any] = [
        "version": "1.0",
        "normalizer": NSNull(),
        "pre_tokenizer": preTokenizer,
        "added_tokens": spec.specialTokenIDs.map { ["id": $0, "content": spec.tokens[$0], "special": true] },
        "model": ["type": "BPE", "vocab": vocab, "merges": spec.merges.map { $0.split(separator: " ").map(String.init) }],
    ]
    root.merge(extra) { $1 }
    return try JSONSerialization.data(withJSONObject: root)
}

private var byteLevel: [String: Any] { ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true] }
private var smolPreTokenizer: [String: Any] {
    ["type": "Sequence", "pretokenizers": [["type": "Digits", "individual_digits": true], byteLevel]]
}

@Suite("Reading tokenizer specifications")
struct SpecLoadingTests {
    let vocabulary = TinyVocabulary(merges: [("h", "i"), ("1", "2")], specials: ["<|im_start|>", "<|im_end|>"])

    @Test("GGUF metadata gives tokens, merges, specials, BOS/EOS, pre-tokenizer and template")
    func fromGGUF() throws {
        let spec = try TokenizerSpec(gguf: tinyMetadata(vocabulary))
        #expect(spec == TokenizerSpec(
            tokens: vocabulary.spec().tokens, merges: vocabulary.spec().merges, specialTokenIDs: [258, 259],
            bosID: 1, eosID: 258, addBOS: false, preTokenizer: .smollm, chatTemplate: "{{ '<|im_start|>' }}"))
    }

    @Test("GGUF problems are typed errors naming the key")
    func ggufErrors() {
        var metadata = tinyMetadata(vocabulary)
        metadata["tokenizer.ggml.pre"] = .string("qwen2")
        #expect(throws: TokenizerError.unsupportedPreTokenizer("qwen2")) { try TokenizerSpec(gguf: metadata) }

        metadata = tinyMetadata(vocabulary)
        metadata["tokenizer.ggml.model"] = .string("llama")
        #expect(throws: TokenizerError.unsupportedModel("llama")) { try TokenizerSpec(gguf: metadata) }

        metadata = tinyMetadata(vocabulary)
        metadata["tokenizer.ggml.tokens"] = nil
        #expect(throws: TokenizerError.missingMetadata(key: "tokenizer.ggml.tokens")) { try TokenizerSpec(gguf: metadata) }

        metadata = tinyMetadata(vocabulary)
        metadata["tokenizer.ggml.eos_token_id"] = .string("2")
        #expect(throws: TokenizerError.invalidMetadata(key: "tokenizer.ggml.eos_token_id", expected: "an integer")) {
            try TokenizerSpec(gguf: metadata)
        }
    }

    @Test("llama.cpp's pre-tokenizer names map to the scanners we have")
    func ggufPreTokenizerNames() throws {
        for (name, kind) in [("gpt2", PreTokenizerKind.gpt2), ("smollm", .smollm), ("llama-bpe", .llama3)] {
            var metadata = tinyMetadata(vocabulary)
            metadata["tokenizer.ggml.pre"] = .string(name)
            let spec = try TokenizerSpec(gguf: metadata)
            #expect(spec.preTokenizer == kind)
            #expect(spec.ignoreMerges == (kind == .llama3))
        }
    }

    @Test("tokenizer.json with pair merges and Digits + ByteLevel reads as SmolLM")
    func fromTokenizerJSON() throws {
        let config = try JSONSerialization.data(withJSONObject: [
            "bos_token": "<|im_start|>", "eos_token": ["content": "<|im_end|>"], "chat_template": "T",
        ])
        let spec = try TokenizerSpec(
            tokenizerJSON: tinyTokenizerJSON(vocabulary, preTokenizer: smolPreTokenizer), tokenizerConfigJSON: config)
        #expect(spec == TokenizerSpec(
            tokens: vocabulary.spec().tokens, merges: vocabulary.spec().merges, specialTokenIDs: [258, 259],
            bosID: 258, eosID: 259, addBOS: false, preTokenizer: .smollm, chatTemplate: "T"))
        let tokenizer = try BPETokenizer(spec: spec)
        #expect(tokenizer.encode("<|im_start|>hi 12") == [258, vocabulary.id("hi"), 32, 49, 50])
    }

    @Test("a ByteLevel pre-tokenizer alone reads as GPT-2; a BOS template processor sets BOS")
    func gpt2JSON() throws {
        let processor: [String: Any] = [
            "type": "TemplateProcessing",
            "single": [["SpecialToken": ["id": "<|im_start|>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
            "special_tokens": ["<|im_start|>": ["id": "<|im_start|>", "ids": [258], "tokens": ["<|im_start|>"]]],
        ]
        let data = try tinyTokenizerJSON(vocabulary, preTokenizer: byteLevel, extra: ["post_processor": processor])
        let spec = try TokenizerSpec(tokenizerJSON: data)
        #expect(spec.preTokenizer == .gpt2)
        #expect(spec.bosID == 258 && spec.addBOS)
    }

    @Test("Llama 3's Split + ByteLevel(use_regex: false) reads as Llama 3")
    func llama3JSON() throws {
        let split: [String: Any] = [
            "type": "Split", "behavior": "Isolated", "invert": false,
            "pattern": ["Regex": #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#],
        ]
        var level = byteLevel
        level["use_regex"] = false
        let data = try tinyTokenizerJSON(vocabulary, preTokenizer: ["type": "Sequence", "pretokenizers": [split, level]])
        #expect(try TokenizerSpec(tokenizerJSON: data).preTokenizer == .llama3)
    }

    @Test("unsupported tokenizer.json features are typed errors")
    func jsonErrors() throws {
        let metaspace: [String: Any] = ["type": "Metaspace", "replacement": "▁"]
        #expect(throws: TokenizerError.self) {
            try TokenizerSpec(tokenizerJSON: tinyTokenizerJSON(vocabulary, preTokenizer: metaspace))
        }
        let normalized = try tinyTokenizerJSON(vocabulary, preTokenizer: byteLevel, extra: ["normalizer": ["type": "NFC"]])
        #expect {
            try TokenizerSpec(tokenizerJSON: normalized)
        } throws: { error in
            guard case TokenizerError.unsupportedFeature(let feature) = error else { return false }
            return feature.contains("NFC")
        }
        #expect(throws: TokenizerError.self) { try TokenizerSpec(tokenizerJSON: Data("{".utf8)) }
    }
}

@Suite("tokenizer.json built from the SmolLM2 vocabulary", .enabled(if: TokenizerFixtures.hasModel, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf"))
struct SmolLM2TokenizerJSONTests {
    @Test("encodes the corpus exactly like the GGUF tokenizer and HF")
    func corpusThroughJSON() throws {
        let gguf = try TokenizerSpec(gguf: TokenizerFixtures.metadata.get())
        var vocab: [String: Int] = [:]
        for (id, token) in gguf.tokens.enumerated() { vocab[token] = id }
        let root: [String: Any] = [
            "normalizer": NSNull(),
            "pre_tokenizer": smolPreTokenizer,
            "added_tokens": gguf.specialTokenIDs.map { ["id": $0, "content": gguf.tokens[$0], "special": true] },
            "model": ["type": "BPE", "vocab": vocab, "merges": gguf.merges],
        ]
        let spec = try TokenizerSpec(tokenizerJSON: JSONSerialization.data(withJSONObject: root))
        #expect(spec.tokens == gguf.tokens)
        #expect(spec.specialTokenIDs == gguf.specialTokenIDs)
        let mismatches = try corpusMismatches(BPETokenizer(spec: spec), TokenizerFixtures.corpus.get())
        #expect(mismatches.isEmpty, "\(mismatches.count) differ:\n\(mismatches.prefix(20).joined(separator: "\n"))")
    }
}
