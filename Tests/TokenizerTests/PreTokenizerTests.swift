import Testing
import Tokenizer

/// A text and its pieces under each pre-tokenizer, as HF `tokenizers` 0.23 splits it
/// (ByteLevel; Sequence[Digits(individual), ByteLevel]; Sequence[Split(Llama 3 regex), ByteLevel]).
struct PreTokenizerCase: Sendable, CustomTestStringConvertible {
    let text: String
    let gpt2: [String]
    let smollm: [String]
    let llama3: [String]

    init(_ text: String, gpt2: [String], smollm: [String], llama3: [String]) {
        self.text = text
        self.gpt2 = gpt2
        self.smollm = smollm
        self.llama3 = llama3
    }

    var testDescription: String { visible(text) }

    func expected(_ kind: PreTokenizerKind) -> [String] {
        switch kind {
        case .gpt2: gpt2
        case .smollm: smollm
        case .llama3: llama3
        }
    }
}

/// One entry of pretokenizer-fuzz.json (written by make_pretokenizer_fuzz.py beside it).
struct PreTokenizerFuzzEntry: Decodable, Sendable {
    let text: String
    let gpt2: [String]
    let smollm: [String]
    let llama3: [String]

    func expected(_ kind: PreTokenizerKind) -> [String] {
        switch kind {
        case .gpt2: gpt2
        case .smollm: smollm
        case .llama3: llama3
        }
    }
}

let preTokenizerCases: [PreTokenizerCase] = [
    PreTokenizerCase(
        "don't",
        gpt2: ["don", "'t"],
        smollm: ["don", "'t"],
        llama3: ["don", "'t"]),
    PreTokenizerCase(
        "It's 'quoted' y'all'd've",
        gpt2: ["It", "'s", " '", "quoted", "'", " y", "'", "all", "'d", "'ve"],
        smollm: ["It", "'s", " '", "quoted", "'", " y", "'", "all", "'d", "'ve"],
        llama3: ["It", "'s", " '", "quoted", "'", " y", "'all", "'d", "'ve"]),
    PreTokenizerCase(
        "IT'S WE'VE",
        gpt2: ["IT", "'", "S", " WE", "'", "VE"],
        smollm: ["IT", "'", "S", " WE", "'", "VE"],
        llama3: ["IT", "'S", " WE", "'VE"]),
    PreTokenizerCase(
        "  42",
        gpt2: [" ", " 42"],
        smollm: ["  ", "4", "2"],
        llama3: [" ", " ", "42"]),
    PreTokenizerCase(
        " 42",
        gpt2: [" 42"],
        smollm: [" ", "4", "2"],
        llama3: [" ", "42"]),
    PreTokenizerCase(
        "x  1  2",
        gpt2: ["x", " ", " 1", " ", " 2"],
        smollm: ["x", "  ", "1", "  ", "2"],
        llama3: ["x", " ", " ", "1", " ", " ", "2"]),
    PreTokenizerCase(
        "hello   world",
        gpt2: ["hello", "  ", " world"],
        smollm: ["hello", "  ", " world"],
        llama3: ["hello", "  ", " world"]),
    PreTokenizerCase(
        "trailing   ",
        gpt2: ["trailing", "   "],
        smollm: ["trailing", "   "],
        llama3: ["trailing", "   "]),
    PreTokenizerCase(
        "a\n\nb",
        gpt2: ["a", "\n", "\n", "b"],
        smollm: ["a", "\n", "\n", "b"],
        llama3: ["a", "\n\n", "b"]),
    PreTokenizerCase(
        "line\r\n  next",
        gpt2: ["line", "\r\n ", " next"],
        smollm: ["line", "\r\n ", " next"],
        llama3: ["line", "\r\n", " ", " next"]),
    PreTokenizerCase(
        " \n x",
        gpt2: [" \n", " x"],
        smollm: [" \n", " x"],
        llama3: [" \n", " x"]),
    PreTokenizerCase(
        "\t\thello",
        gpt2: ["\t", "\t", "hello"],
        smollm: ["\t", "\t", "hello"],
        llama3: ["\t", "\thello"]),
    PreTokenizerCase(
        "1234567 apples",
        gpt2: ["1234567", " apples"],
        smollm: ["1", "2", "3", "4", "5", "6", "7", " apples"],
        llama3: ["123", "456", "7", " apples"]),
    PreTokenizerCase(
        "?!... ok",
        gpt2: ["?!...", " ok"],
        smollm: ["?!...", " ok"],
        llama3: ["?!...", " ok"]),
    PreTokenizerCase(
        "'sam",
        gpt2: ["'s", "am"],
        smollm: ["'s", "am"],
        llama3: ["'s", "am"]),
    PreTokenizerCase(
        "Ⅻ ½",
        gpt2: ["Ⅻ", " ½"],
        smollm: ["Ⅻ", " ", "½"],
        llama3: ["Ⅻ", " ", "½"]),
    PreTokenizerCase(
        "日本語 テキスト",
        gpt2: ["日本語", " テキスト"],
        smollm: ["日本語", " テキスト"],
        llama3: ["日本語", " テキスト"]),
    PreTokenizerCase(
        "a\u{A0}b",
        gpt2: ["a", "\u{A0}", "b"],
        smollm: ["a", "\u{A0}", "b"],
        llama3: ["a", "\u{A0}b"]),
    PreTokenizerCase(
        "foo\u{3000}bar",
        gpt2: ["foo", "\u{3000}", "bar"],
        smollm: ["foo", "\u{3000}", "bar"],
        llama3: ["foo", "\u{3000}bar"]),
    PreTokenizerCase(
        "x\n  \n",
        gpt2: ["x", "\n  \n"],
        smollm: ["x", "\n  \n"],
        llama3: ["x", "\n  \n"]),
    PreTokenizerCase(
        "Hi!\n\nThere",
        gpt2: ["Hi", "!", "\n", "\n", "There"],
        smollm: ["Hi", "!", "\n", "\n", "There"],
        llama3: ["Hi", "!\n\n", "There"]),
    PreTokenizerCase(
        "!!!\n\n\nabc",
        gpt2: ["!!!", "\n\n", "\n", "abc"],
        smollm: ["!!!", "\n\n", "\n", "abc"],
        llama3: ["!!!\n\n\n", "abc"]),
]

@Suite("Pre-tokenizer")
struct PreTokenizerTests {
    @Test("pieces match HF tokenizers on hand-picked cases", arguments: preTokenizerCases)
    func handPickedCases(_ example: PreTokenizerCase) {
        for kind in PreTokenizerKind.allCases {
            let pieces = PreTokenizer(kind: kind).pieces(of: example.text)
            #expect(pieces.map(visible) == example.expected(kind).map(visible), "\(kind)")
        }
    }

    @Test("pieces match HF tokenizers on 800 random texts of every character class")
    func randomTexts() throws {
        let entries: [PreTokenizerFuzzEntry] = try TokenizerFixtures.json("pretokenizer-fuzz.json")
        #expect(entries.count == 800)
        for kind in PreTokenizerKind.allCases {
            let preTokenizer = PreTokenizer(kind: kind)
            let mismatches = entries.filter { entry in
                preTokenizer.pieces(of: entry.text).map { Array($0.unicodeScalars) }
                    != entry.expected(kind).map { Array($0.unicodeScalars) }
            }
            #expect(mismatches.isEmpty, "\(kind): \(mismatches.count) differ, e.g. \(mismatches.prefix(5).map { visible($0.text) })")
        }
    }

    @Test("a run of spaces before a word gives its last space to the word")
    func spacesBeforeWord() {
        #expect(PreTokenizer(kind: .gpt2).pieces(of: "a    b") == ["a", "   ", " b"])
    }

    @Test("whitespace at the end of the text stays one piece")
    func trailingWhitespace() {
        #expect(PreTokenizer(kind: .gpt2).pieces(of: "end \t \n ") == ["end", " \t \n "])
    }

    @Test("SmolLM splits every digit, including non-ASCII numbers, on its own")
    func smollmDigits() {
        #expect(PreTokenizer(kind: .smollm).pieces(of: "v12.5١٢") == ["v", "1", "2", ".", "5", "١", "٢"])
    }

    @Test("pieces always concatenate back to the text")
    func piecesConcatenate() {
        let texts = ["", " ", "héllo wörld 😀😀 \r\n\r\n x", "'''s 'LL\t\t42\u{2028}x", "e\u{301}\u{302} ok"]
        for kind in PreTokenizerKind.allCases {
            for text in texts {
                let joined = PreTokenizer(kind: kind).pieces(of: text).joined()
                #expect(Array(joined.unicodeScalars) == Array(text.unicodeScalars), "\(kind): \(visible(text))")
            }
        }
    }

    @Test("the empty text has no pieces")
    func emptyText() {
        for kind in PreTokenizerKind.allCases {
            #expect(PreTokenizer(kind: kind).pieces(of: "").isEmpty)
        }
    }
}
