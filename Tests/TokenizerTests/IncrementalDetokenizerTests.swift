import Testing
import Tokenizer

@Suite("Incremental detokenizer")
struct IncrementalDetokenizerTests {
    /// Single-byte tokens (id = byte) plus one special token, so any byte sequence can be fed.
    let vocabulary = TinyVocabulary(merges: [], specials: ["<|end|>"])

    @Test("a character split across tokens comes out whole, once complete")
    func heldUntilComplete() throws {
        var detokenizer = IncrementalDetokenizer(tokenizer: try vocabulary.tokenizer())
        #expect(detokenizer.append(0xE2) == "")
        #expect(detokenizer.append(0x82) == "")
        #expect(detokenizer.hasPendingBytes)
        #expect(detokenizer.append(0xAC) == "€")
        #expect(!detokenizer.hasPendingBytes)
        for byte in "😀".utf8.dropLast() { #expect(detokenizer.append(Int(byte)) == "") }
        #expect(detokenizer.append(Int("😀".utf8.last!)) == "😀")
    }

    @Test("bytes that can never be valid come out as U+FFFD at once")
    func invalidBytesImmediately() throws {
        var detokenizer = IncrementalDetokenizer(tokenizer: try vocabulary.tokenizer())
        #expect(detokenizer.append(0xFF) == "\u{FFFD}")
        #expect(detokenizer.append(0xE2) == "")
        #expect(detokenizer.append(Int(UInt8(ascii: "a"))) == "\u{FFFD}a")
        #expect(detokenizer.append(0xED) == "")
        #expect(detokenizer.append(0xA0) == "\u{FFFD}\u{FFFD}")  // a surrogate's start is invalid at once
    }

    @Test("flush returns an unfinished character as U+FFFD and starts afresh")
    func flush() throws {
        var detokenizer = IncrementalDetokenizer(tokenizer: try vocabulary.tokenizer())
        #expect(detokenizer.append(0xF0) == "")
        #expect(detokenizer.append(0x9F) == "")
        #expect(detokenizer.flush() == "\u{FFFD}")
        #expect(detokenizer.flush() == "")
        #expect(detokenizer.append(Int(UInt8(ascii: "b"))) == "b")
    }

    @Test("special tokens come out as their text")
    func specialToken() throws {
        var detokenizer = IncrementalDetokenizer(tokenizer: try vocabulary.tokenizer())
        #expect(detokenizer.append(vocabulary.id("<|end|>")) == "<|end|>")
    }

    @Test("pieces always concatenate to the one-shot decode, whatever the bytes")
    func matchesDecodeOnRandomBytes() throws {
        let tokenizer = try vocabulary.tokenizer()
        // Bytes drawn mostly from UTF-8 lead and continuation ranges, to hit every edge.
        let pool: [Int] = [0x41, 0x20, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1, 0xED,
                           0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF, vocabulary.id("<|end|>")]
        var random = SplitMix64(seed: 42)
        for _ in 0..<3000 {
            let ids = (0..<Int(random.next() % 9)).map { _ in pool[Int(random.next() % UInt64(pool.count))] }
            var detokenizer = IncrementalDetokenizer(tokenizer: tokenizer)
            var text = ids.map { detokenizer.append($0) }.joined()
            text += detokenizer.flush()
            #expect(Array(text.utf8) == Array(tokenizer.decode(ids).utf8), "ids \(ids)")
        }
    }
}

/// A tiny deterministic generator, so the random test is the same on every run.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
