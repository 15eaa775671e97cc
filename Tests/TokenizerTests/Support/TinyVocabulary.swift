import Tokenizer

/// A hand-made byte-level vocabulary: the 256 single bytes (token id = byte), then one token per
/// merge in `merges` order, then `specials`.
struct TinyVocabulary {
    let merges: [(String, String)]
    let specials: [String]

    init(merges: [(String, String)], specials: [String] = []) {
        self.merges = merges
        self.specials = specials
    }

    /// GPT-2's byte-to-character map (what vocabulary strings are written in).
    static let byteCharacters: [Character] = {
        var characters: [Character] = []
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            if printable {
                characters.append(Character(Unicode.Scalar(UInt8(byte))))
            } else {
                characters.append(Character(Unicode.Scalar(next)!))
                next += 1
            }
        }
        return characters
    }()

    /// `text`'s UTF-8 written in vocabulary characters (`"a b"` → `"aĠb"`).
    static func mapped(_ text: String) -> String {
        String(text.utf8.map { byteCharacters[Int($0)] })
    }

    /// Id of the token for `text` (plain text, not mapped).
    func id(_ text: String) -> Int {
        if let index = specials.firstIndex(of: text) { return 256 + merges.count + index }
        let bytes = Array(text.utf8)
        if bytes.count == 1 { return Int(bytes[0]) }
        let index = merges.firstIndex { $0.0 + $0.1 == text }!
        return 256 + index
    }

    func spec(preTokenizer: PreTokenizerKind = .gpt2, ignoreMerges: Bool = false) -> TokenizerSpec {
        let tokens = Self.byteCharacters.map { String($0) }
            + merges.map { Self.mapped($0.0 + $0.1) } + specials
        return TokenizerSpec(
            tokens: tokens,
            merges: merges.map { Self.mapped($0.0) + " " + Self.mapped($0.1) },
            specialTokenIDs: specials.indices.map { 256 + merges.count + $0 },
            eosID: specials.isEmpty ? nil : 256 + merges.count,
            preTokenizer: preTokenizer, ignoreMerges: ignoreMerges)
    }

    func tokenizer(preTokenizer: PreTokenizerKind = .gpt2, ignoreMerges: Bool = false) throws -> BPETokenizer {
        try BPETokenizer(spec: spec(preTokenizer: preTokenizer, ignoreMerges: ignoreMerges))
    }
}
