/// GPT-2's reversible mapping between bytes and printable characters, used by byte-level BPE.
///
/// Bytes that are printable Latin-1 characters (`!`…`~`, `¡`…`¬`, `®`…`ÿ`) stand for themselves;
/// the other 68 bytes (control characters, space, soft hyphen…) take the characters U+0100, U+0101, …
/// in byte order. So a space is `Ġ` (U+0120) and a newline is `Ċ` (U+010A) in vocabulary strings.
enum ByteLevel {
    /// The character that stands for each byte. [256]
    static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if isSelfMapped(UInt8(byte)) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte each mapped character stands for, indexed by scalar value; -1 where none. [324]
    static let byteForScalarValue: [Int16] = {
        var table = [Int16](repeating: -1, count: 256 + 68)
        for byte in 0..<256 {
            table[Int(scalarForByte[byte].value)] = Int16(byte)
        }
        return table
    }()

    /// Whether a byte is a printable Latin-1 character that stands for itself.
    private static func isSelfMapped(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// The bytes a vocabulary string stands for, or nil when one of its characters is not a mapped byte
    /// (then the string is not a byte-level token; HF decodes such a token as its raw UTF-8).
    static func bytes(ofMapped token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.utf8.count)
        for scalar in token.unicodeScalars {
            let value = Int(scalar.value)
            guard value < byteForScalarValue.count, byteForScalarValue[value] >= 0 else { return nil }
            bytes.append(UInt8(byteForScalarValue[value]))
        }
        return bytes
    }

    /// The vocabulary string for a byte sequence (the inverse of `bytes(ofMapped:)`).
    static func mappedString(_ bytes: some Sequence<UInt8>) -> String {
        var result = String.UnicodeScalarView()
        for byte in bytes { result.append(scalarForByte[Int(byte)]) }
        return String(result)
    }
}
