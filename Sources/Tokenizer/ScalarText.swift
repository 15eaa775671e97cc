/// Text decoded once into Unicode scalars, with the character classes the pre-tokenizer patterns
/// test and each scalar's UTF-8 offset (so a piece of scalars maps straight to its bytes).
struct ScalarText {
    /// Class bits of one scalar.
    enum Class {
        /// `\p{L}`: general category Lu, Ll, Lt, Lm or Lo.
        static let letter: UInt8 = 1
        /// `\p{N}`: general category Nd, Nl or No.
        static let number: UInt8 = 2
        /// `\s`: Unicode White_Space (what Oniguruma and Rust's regex mean by `\s`).
        static let whitespace: UInt8 = 4
        /// `[\r\n]` (Llama 3's pattern treats these apart from other whitespace).
        static let newline: UInt8 = 8
        /// U+0020, the optional leading space of ` ?\p{L}+` and friends.
        static let space: UInt8 = 16
        /// `'`, which starts the contractions.
        static let apostrophe: UInt8 = 32
    }

    /// The scalars' values. [n]
    var scalars: [UInt32] = []
    /// Class bits of each scalar. [n]
    var classes: [UInt8] = []
    /// UTF-8 offset of each scalar in `utf8`, plus the total length at the end. [n + 1]
    var byteOffsets: [Int] = []
    /// The text's UTF-8 bytes.
    var utf8: [UInt8] = []

    /// Decodes `text` and classifies every scalar.
    init(_ text: String) {
        utf8 = Array(text.utf8)
        scalars.reserveCapacity(utf8.count)
        classes.reserveCapacity(utf8.count)
        byteOffsets.reserveCapacity(utf8.count + 1)
        var offset = 0
        for scalar in text.unicodeScalars {
            scalars.append(scalar.value)
            classes.append(Self.classify(scalar))
            byteOffsets.append(offset)
            offset += UTF8.width(scalar)
        }
        byteOffsets.append(offset)
    }

    /// Number of scalars.
    var count: Int { scalars.count }

    /// The UTF-8 bytes of scalars `range`.
    func byteRange(_ range: Range<Int>) -> Range<Int> {
        byteOffsets[range.lowerBound]..<byteOffsets[range.upperBound]
    }

    /// Class bits of one scalar.
    static func classify(_ scalar: Unicode.Scalar) -> UInt8 {
        if scalar.isASCII { return asciiClasses[Int(scalar.value)] }
        return unicodeClass(scalar)
    }

    private static let asciiClasses: [UInt8] = (0..<128).map { unicodeClass(Unicode.Scalar(UInt8($0))) }

    private static func unicodeClass(_ scalar: Unicode.Scalar) -> UInt8 {
        var bits: UInt8 = 0
        let properties = scalar.properties
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            bits |= Class.letter
        case .decimalNumber, .letterNumber, .otherNumber:
            bits |= Class.number
        default:
            break
        }
        if properties.isWhitespace { bits |= Class.whitespace }
        switch scalar.value {
        case 0x0A, 0x0D: bits |= Class.newline
        case 0x20: bits |= Class.space
        case 0x27: bits |= Class.apostrophe
        default: break
        }
        return bits
    }
}
