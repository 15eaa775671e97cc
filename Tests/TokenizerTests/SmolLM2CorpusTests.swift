import Foundation
import Testing
import Tokenizer

/// The SmolLM2 tokenizer (read from the real GGUF through ModelFormats) against HF `tokenizers`
/// outputs in Tests/Fixtures/tokenizer/corpus.json.
@Suite("SmolLM2 tokenizer vs HF tokenizers", .enabled(if: TokenizerFixtures.hasModel, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf"))
struct SmolLM2CorpusTests {
    let tokenizer: BPETokenizer
    let corpus: [CorpusEntry]

    init() throws {
        tokenizer = try TokenizerFixtures.smolLM2.get()
        corpus = try TokenizerFixtures.corpus.get()
    }

    @Test("the GGUF metadata gives the facts SmolLM2 is known for")
    func metadataFacts() throws {
        #expect(tokenizer.vocabularySize == 49152)
        #expect(tokenizer.eosID == 2)
        #expect(tokenizer.bosID == 1)
        #expect(tokenizer.addsBOS == false)
        #expect(tokenizer.preTokenizer.kind == .smollm)
        #expect(tokenizer.specialIDs == Set(0...16))
        #expect(tokenizer.tokenID(for: "<|im_end|>") == 2)
        #expect(tokenizer.encode("  42") == [256, 36, 34])
    }

    @Test("every corpus string encodes to exactly HF's ids")
    func encodesLikeHF() {
        #expect(corpus.count >= 220)
        let mismatches = corpusMismatches(tokenizer, corpus)
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(corpus.count) differ:\n\(mismatches.prefix(20).joined(separator: "\n"))")
    }

    @Test("decoding HF's ids gives HF's text, byte for byte")
    func decodesLikeHF() {
        for entry in corpus {
            let decoded = tokenizer.decode(entry.ids)
            // Compare bytes: String == would accept a canonically equivalent but different text.
            #expect(Array(decoded.utf8) == Array(entry.decoded.utf8), "\(visible(entry.text))")
        }
    }

    @Test("the incremental detokenizer yields the same text and never a broken character")
    func incrementalDetokenizer() {
        var splitCharacters = 0
        for entry in corpus {
            var detokenizer = IncrementalDetokenizer(tokenizer: tokenizer)
            var text = ""
            for id in entry.ids {
                let piece = detokenizer.append(id)
                // No U+FFFD appears unless the expected text has one (no character was cut in two).
                if !entry.decoded.unicodeScalars.contains("\u{FFFD}") {
                    #expect(!piece.unicodeScalars.contains("\u{FFFD}"), "\(visible(entry.text))")
                }
                if detokenizer.hasPendingBytes { splitCharacters += 1 }
                text += piece
            }
            text += detokenizer.flush()
            #expect(Array(text.utf8) == Array(entry.decoded.utf8), "\(visible(entry.text))")
        }
        // The corpus holds emoji and CJK that span tokens, so the hold-back path really ran.
        #expect(splitCharacters > 0)
    }

    @Test("special tokens written in text become single ids; near misses do not")
    func specialTokensInText() {
        #expect(tokenizer.encode("<|im_start|>user\nhi<|im_end|>") == [1] + tokenizer.encode("user\nhi") + [2])
        #expect(tokenizer.encode("<|endoftext|><|endoftext|>") == [0, 0])
        #expect(tokenizer.encode("a<|im_end|>b") == tokenizer.encode("a") + [2] + tokenizer.encode("b"))
        #expect(!tokenizer.encode("<|im_start|").contains(1))
        #expect(!tokenizer.encode("<|IM_START|>").contains(1))
        #expect(tokenizer.decode([1, 2]) == "<|im_start|><|im_end|>")
    }

    @Test("encode honours an explicit BOS request")
    func explicitBOS() {
        #expect(tokenizer.encode("hi", addBOS: true) == [1] + tokenizer.encode("hi"))
    }

    @Test("token bytes are the GPT-2 byte mapping undone")
    func tokenBytes() {
        #expect(tokenizer.tokenBytes(256) == Array("  ".utf8))
        #expect(tokenizer.tokenBytes(2) == Array("<|im_end|>".utf8))
        #expect(tokenizer.tokenBytes(-1).isEmpty)
        #expect(tokenizer.tokenBytes(49152).isEmpty)
    }

    @Test("the same tokenizer encodes correctly from many threads at once")
    func concurrentEncoding() async {
        let entries = Array(corpus.prefix(64))
        let tokenizer = self.tokenizer
        let allMatch = await withTaskGroup(of: Bool.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    entries.indices.allSatisfy { index in
                        let entry = entries[(index + worker * 16) % entries.count]
                        return tokenizer.encode(entry.text) == entry.ids
                    }
                }
            }
            return await group.reduce(true) { $0 && $1 }
        }
        #expect(allMatch)
    }
}

/// One line per corpus entry whose encoding differs from HF's ids.
func corpusMismatches(_ tokenizer: BPETokenizer, _ corpus: [CorpusEntry]) -> [String] {
    corpus.compactMap { entry in
        let ids = tokenizer.encode(entry.text)
        return ids == entry.ids ? nil : "\(visible(entry.text)): got \(ids), expected \(entry.ids)"
    }
}
