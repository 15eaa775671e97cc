import Testing
import Tokenizer

@Suite("Byte-level BPE on a hand-made vocabulary")
struct BPETests {
    let hello = TinyVocabulary(
        merges: [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), (" ", "w"), (" w", "o")],
        specials: ["<|end|>", "<|end|>x"])

    @Test("merges apply lowest rank first")
    func lowestRankFirst() throws {
        let tokenizer = try hello.tokenizer()
        #expect(tokenizer.encode("hello") == [hello.id("hello")])
        #expect(tokenizer.encode("hell") == [hello.id("hell")])
        #expect(tokenizer.encode("hel") == [hello.id("he"), hello.id("l")])
        #expect(tokenizer.encode(" wo") == [hello.id(" wo")])

        let leftFirst = TinyVocabulary(merges: [("a", "b"), ("b", "c")])
        #expect(try leftFirst.tokenizer().encode("abc") == [leftFirst.id("ab"), leftFirst.id("c")])
        let rightFirst = TinyVocabulary(merges: [("b", "c"), ("a", "b")])
        #expect(try rightFirst.tokenizer().encode("abc") == [rightFirst.id("a"), rightFirst.id("bc")])
    }

    @Test("among equal pairs the leftmost merges first")
    func leftmostAmongEquals() throws {
        let vocabulary = TinyVocabulary(merges: [("a", "a")])
        #expect(try vocabulary.tokenizer().encode("aaa") == [vocabulary.id("aa"), vocabulary.id("a")])
    }

    @Test("a long piece merges correctly (the heap path)")
    func longPiece() throws {
        let vocabulary = TinyVocabulary(merges: [("a", "a"), ("aa", "aa")])
        let ids = try vocabulary.tokenizer().encode(String(repeating: "a", count: 1002))
        #expect(ids == Array(repeating: vocabulary.id("aaaa"), count: 250) + [vocabulary.id("aa")])
    }

    @Test("bytes of any text round-trip through encode and decode")
    func roundTrip() throws {
        let tokenizer = try hello.tokenizer()
        for text in ["", "hello world", "héllo 😀 \u{0}\r\n\t", "e\u{301}", "<|end|> hello"] {
            #expect(Array(tokenizer.decode(tokenizer.encode(text)).utf8) == Array(text.utf8))
        }
    }

    @Test("special tokens match verbatim, longest first, and pieces around them stay apart")
    func specialTokens() throws {
        let tokenizer = try hello.tokenizer()
        let end = hello.id("<|end|>"), endX = hello.id("<|end|>x")
        #expect(tokenizer.encode("hello<|end|>hello") == [hello.id("hello"), end, hello.id("hello")])
        #expect(tokenizer.encode("<|end|>x<|end|>") == [endX, end])
        #expect(tokenizer.encode("<|end|") == tokenizer.encode("<|end|", addBOS: false))
        #expect(!tokenizer.encode("<|end|").contains(end))
        // The space before a special token is not given to the word after it.
        #expect(tokenizer.encode(" <|end|>wo") == [hello.id(" "), end, hello.id("w"), hello.id("o")])
        #expect(tokenizer.specialIDs == [end, endX])
        #expect(tokenizer.decode([end, hello.id("hello")]) == "<|end|>hello")
    }

    @Test("ignoreMerges takes a piece that is a whole token as is")
    func ignoreMerges() throws {
        // "abc" is a token, but the merges alone would stop at a + bc.
        let vocabulary = TinyVocabulary(merges: [("b", "c"), ("ab", "c"), ("a", "b")])
        #expect(try vocabulary.tokenizer().encode("abc") == [vocabulary.id("a"), vocabulary.id("bc")])
        #expect(try vocabulary.tokenizer(ignoreMerges: true).encode("abc") == [vocabulary.id("abc")])
    }

    @Test("BOS is prepended only when asked or when the model adds one")
    func bos() throws {
        var spec = hello.spec()
        spec.bosID = 7
        #expect(try BPETokenizer(spec: spec).encode("h") == [Int(UInt8(ascii: "h"))])
        spec.addBOS = true
        let tokenizer = try BPETokenizer(spec: spec)
        #expect(tokenizer.encode("h") == [7, Int(UInt8(ascii: "h"))])
        #expect(tokenizer.encode("h", addBOS: false) == [Int(UInt8(ascii: "h"))])
    }

    @Test("a merge naming an unknown token is a typed error")
    func unknownMergeToken() {
        var spec = hello.spec()
        spec.merges.append("q zz")
        #expect(throws: TokenizerError.mergeTokenNotInVocabulary(index: 6, token: "zz")) {
            try BPETokenizer(spec: spec)
        }
    }

    @Test("a merge rule that is not two tokens is a typed error")
    func malformedMerge() {
        var spec = hello.spec()
        spec.merges.append("abc")
        #expect(throws: TokenizerError.invalidMerge(index: 6, rule: "abc")) { try BPETokenizer(spec: spec) }
    }

    @Test("an EOS outside the vocabulary is a typed error")
    func eosOutOfRange() {
        var spec = hello.spec()
        spec.eosID = 100_000
        #expect(throws: TokenizerError.tokenIDOutOfRange(role: "EOS", id: 100_000, vocabularySize: spec.tokens.count)) {
            try BPETokenizer(spec: spec)
        }
    }
}
