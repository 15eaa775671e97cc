import Foundation

/// A byte-level BPE tokenizer (GPT-2 family: SmolLM, Llama 3, …). Immutable and safe to share
/// between threads.
///
/// Encoding runs in four steps: special tokens written in the text become their own ids; the rest is
/// cut into pieces by the pre-tokenizer; each piece's UTF-8 bytes become single-byte tokens; BPE merges
/// adjacent tokens, lowest-ranked rule first.
public final class BPETokenizer: Sendable {
    /// Number of token ids (the largest id plus one).
    public let vocabularySize: Int
    /// Beginning-of-sequence token, if any.
    public let bosID: Int?
    /// End-of-sequence token, if any.
    public let eosID: Int?
    /// Whether `encode(_:)` prepends `bosID`.
    public let addsBOS: Bool
    /// Ids matched verbatim in input text (decoded as their text, like any token).
    public let specialIDs: Set<Int>
    /// How text is cut into pieces before BPE.
    public let preTokenizer: PreTokenizer
    /// The model's chat template source, when the tokenizer file carried one.
    public let chatTemplate: String?

    /// Vocabulary strings, as given.
    private let tokens: [String]
    /// Bytes of every token, concatenated; token `i` is `tokenByteStorage[tokenByteOffsets[i]..<tokenByteOffsets[i + 1]]`.
    private let tokenByteStorage: [UInt8]
    /// [vocabularySize + 1]
    private let tokenByteOffsets: [Int]
    private let merger: BPEMerger
    private let specials: SpecialTokenMatcher
    /// Byte-level tokens by their bytes, for `ignoreMerges` (nil when merges always run).
    private let wholePieceTokens: [ByteString: Int32]?

    /// Builds the tokenizer, validating the specification.
    public init(spec: TokenizerSpec) throws {
        let size = spec.tokens.count
        for (role, id) in [("BOS", spec.bosID), ("EOS", spec.eosID)] + spec.specialTokenIDs.map({ ("special", $0) }) {
            if let id, !(0..<size).contains(id) {
                throw TokenizerError.tokenIDOutOfRange(role: role, id: id, vocabularySize: size)
            }
        }
        vocabularySize = size
        bosID = spec.bosID
        eosID = spec.eosID
        addsBOS = spec.addBOS && spec.bosID != nil
        specialIDs = Set(spec.specialTokenIDs)
        preTokenizer = PreTokenizer(kind: spec.preTokenizer)
        chatTemplate = spec.chatTemplate
        tokens = spec.tokens

        // Byte-level tokens by their bytes; a string with a character outside the byte map is not one
        // (it can still be a special token, which decodes as its raw UTF-8, as HF does).
        var byteLevel: [ByteString: Int32] = [:]
        byteLevel.reserveCapacity(size)
        var storage: [UInt8] = []
        var offsets: [Int] = [0]
        offsets.reserveCapacity(size + 1)
        for (id, token) in spec.tokens.enumerated() {
            if let bytes = ByteLevel.bytes(ofMapped: token) {
                storage += bytes
                if byteLevel[ByteString(bytes)] == nil {  // of duplicate strings, the first id wins
                    byteLevel[ByteString(bytes)] = Int32(id)
                }
            } else {
                storage += token.utf8
            }
            offsets.append(storage.count)
        }
        tokenByteStorage = storage
        tokenByteOffsets = offsets

        var byteTokens = [Int32](repeating: -1, count: 256)
        for byte in 0..<256 {
            byteTokens[byte] = byteLevel[ByteString([UInt8(byte)])] ?? -1
        }
        merger = BPEMerger(byteTokens: byteTokens, rules: try Self.mergeRules(spec.merges, byteLevel))
        specials = SpecialTokenMatcher(spec.specialTokenIDs.map { ($0, spec.tokens[$0]) })
        wholePieceTokens = spec.ignoreMerges ? byteLevel : nil
    }

    /// Parses `"left right"` rules into the merge table, keyed by token ids.
    private static func mergeRules(_ merges: [String], _ vocabulary: [ByteString: Int32]) throws -> [UInt64: UInt64] {
        var rules: [UInt64: UInt64] = [:]
        rules.reserveCapacity(merges.count)
        for (rank, rule) in merges.enumerated() {
            let parts = rule.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw TokenizerError.invalidMerge(index: rank, rule: rule)
            }
            func id(_ text: String) throws -> Int32 {
                guard let bytes = ByteLevel.bytes(ofMapped: text), let id = vocabulary[ByteString(bytes)] else {
                    throw TokenizerError.mergeTokenNotInVocabulary(index: rank, token: text)
                }
                return id
            }
            let left = try id(String(parts[0]))
            let right = try id(String(parts[1]))
            let merged = try id(String(parts[0]) + String(parts[1]))
            let key = UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))
            if rules[key] == nil {  // the first (lowest-ranked) duplicate wins
                rules[key] = UInt64(rank) << 32 | UInt64(UInt32(merged))
            }
        }
        return rules
    }

    // MARK: - Encoding

    /// The tokens of `text`, with BOS first when the model adds one (`addsBOS`).
    public func encode(_ text: String) -> [Int] {
        encode(text, addBOS: addsBOS)
    }

    /// The tokens of `text`, with `bosID` first when `addBOS` is true (pass false for text that
    /// already starts with the BOS text, such as a rendered Llama 3 chat).
    public func encode(_ text: String, addBOS: Bool) -> [Int] {
        let scanned = ScalarText(text)
        var output: [Int] = []
        output.reserveCapacity(scanned.utf8.count / 3 + 2)
        if addBOS, let bosID { output.append(bosID) }

        var scratch = BPEMerger.Scratch()
        var pieceEnds: [Int] = []
        var segmentStart = 0
        var index = 0
        while index < scanned.count {
            guard !specials.isEmpty, let special = specials.match(scanned.utf8, at: scanned.byteOffsets[index]) else {
                index += 1
                continue
            }
            encodeOrdinary(scanned, segmentStart..<index, &pieceEnds, &scratch, &output)
            output.append(special.id)
            let endByte = scanned.byteOffsets[index] + special.length
            while scanned.byteOffsets[index] < endByte { index += 1 }
            segmentStart = index
        }
        encodeOrdinary(scanned, segmentStart..<scanned.count, &pieceEnds, &scratch, &output)
        return output
    }

    /// Pre-tokenizes scalars `range` (text free of special tokens) and merges every piece.
    private func encodeOrdinary(
        _ text: ScalarText, _ range: Range<Int>, _ pieceEnds: inout [Int],
        _ scratch: inout BPEMerger.Scratch, _ output: inout [Int]
    ) {
        guard !range.isEmpty else { return }
        pieceEnds.removeAll(keepingCapacity: true)
        preTokenizer.appendPieceEnds(of: text, in: range, to: &pieceEnds)
        var start = range.lowerBound
        for end in pieceEnds {
            let bytes = text.utf8[text.byteRange(start..<end)]
            start = end
            if let wholePieceTokens, let token = wholePieceTokens[ByteString(Array(bytes))] {
                output.append(Int(token))
                continue
            }
            merger.merge(bytes, scratch: &scratch, into: &output)
        }
    }

    // MARK: - Decoding

    /// The bytes token `id` stands for (empty for an id outside the vocabulary).
    public func tokenBytes(_ id: Int) -> [UInt8] {
        guard id >= 0, id < vocabularySize else { return [] }
        return Array(tokenByteStorage[tokenByteOffsets[id]..<tokenByteOffsets[id + 1]])
    }

    /// Appends the bytes of token `id` to `bytes` (nothing for an id outside the vocabulary).
    public func appendBytes(of id: Int, to bytes: inout [UInt8]) {
        guard id >= 0, id < vocabularySize else { return }
        bytes += tokenByteStorage[tokenByteOffsets[id]..<tokenByteOffsets[id + 1]]
    }

    /// The text of `ids`; bytes that are not valid UTF-8 become U+FFFD. Special tokens appear as their text.
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids { appendBytes(of: id, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The id of the vocabulary string `token` as written in the vocabulary (e.g. `<|im_end|>`,
    /// `Ġhello`), if present. A linear search: meant for setup, not for hot paths.
    public func tokenID(for token: String) -> Int? {
        tokens.firstIndex(of: token)
    }

    /// Whether `id` is a special token.
    public func isSpecial(_ id: Int) -> Bool {
        specialIDs.contains(id)
    }
}

/// A byte string usable as a dictionary key, hashed in one call rather than byte by byte.
struct ByteString: Hashable, Sendable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
