/// Turns a stream of token ids into text without ever splitting a character: bytes of a UTF-8
/// sequence that is not finished yet wait for the next token.
///
/// The pieces it returns concatenate to exactly `tokenizer.decode(ids)`.
public struct IncrementalDetokenizer: Sendable {
    /// The tokenizer whose tokens are decoded.
    public let tokenizer: BPETokenizer
    /// Bytes received but not yet returned: at most the start of one unfinished UTF-8 sequence.
    private var pending: [UInt8] = []

    /// Creates a detokenizer with nothing pending.
    public init(tokenizer: BPETokenizer) {
        self.tokenizer = tokenizer
    }

    /// Whether bytes of an unfinished character are waiting for more tokens.
    public var hasPendingBytes: Bool { !pending.isEmpty }

    /// Adds one token and returns the text that is now complete (possibly empty). Bytes that can
    /// never become valid UTF-8 are returned as U+FFFD right away.
    public mutating func append(_ id: Int) -> String {
        tokenizer.appendBytes(of: id, to: &pending)
        let keep = unfinishedSuffixLength(pending)
        if keep == pending.count { return "" }
        let text = String(decoding: pending[..<(pending.count - keep)], as: UTF8.self)
        pending.removeFirst(pending.count - keep)
        return text
    }

    /// Returns whatever is pending (an unfinished sequence becomes U+FFFD) and starts afresh.
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }
}

/// Length of the trailing bytes that begin a UTF-8 sequence and could still be completed by more
/// bytes; 0 when the bytes end on a character boundary or with an invalid sequence.
func unfinishedSuffixLength(_ bytes: [UInt8]) -> Int {
    // A sequence is at most 4 bytes, so an unfinished one starts within the last 3.
    guard !bytes.isEmpty else { return 0 }
    for length in 1...min(3, bytes.count) {
        let lead = bytes[bytes.count - length]
        if lead & 0xC0 == 0x80 { continue }  // continuation byte: the lead is further back
        let needed: Int
        var secondByteRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: needed = 2
        case 0xE0: needed = 3; secondByteRange = 0xA0...0xBF  // no overlong forms
        case 0xED: needed = 3; secondByteRange = 0x80...0x9F  // no surrogates
        case 0xE1...0xEC, 0xEE...0xEF: needed = 3
        case 0xF0: needed = 4; secondByteRange = 0x90...0xBF  // no overlong forms
        case 0xF1...0xF3: needed = 4
        case 0xF4: needed = 4; secondByteRange = 0x80...0x8F  // nothing past U+10FFFF
        default: return 0  // ASCII or a byte that never starts a sequence
        }
        guard length < needed else { return 0 }  // complete (or overlong: the decoder repairs it)
        if length >= 2, !secondByteRange.contains(bytes[bytes.count - length + 1]) { return 0 }
        return length
    }
    return 0
}
