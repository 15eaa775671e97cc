/// Cuts text into the pieces BPE runs on, by hand-written scanners equivalent to the regular
/// expressions of GPT-2, SmolLM and Llama 3 (leftmost-first alternation, greedy, with the
/// backtracking of `\s+(?!\S)` worked out by hand).
public struct PreTokenizer: Sendable, Equatable {
    /// Which pattern this pre-tokenizer applies.
    public let kind: PreTokenizerKind

    /// Creates a pre-tokenizer of the given kind.
    public init(kind: PreTokenizerKind) {
        self.kind = kind
    }

    /// The pieces of `text`, in order; they concatenate back to `text`.
    public func pieces(of text: String) -> [String] {
        let scanned = ScalarText(text)
        var ends: [Int] = []
        appendPieceEnds(of: scanned, in: 0..<scanned.count, to: &ends)
        var start = 0
        return ends.map { end in
            defer { start = end }
            return String(decoding: scanned.utf8[scanned.byteRange(start..<end)], as: UTF8.self)
        }
    }

    /// Appends the end index (in scalars) of every piece of `range`; the last end is `range.upperBound`.
    func appendPieceEnds(of text: ScalarText, in range: Range<Int>, to ends: inout [Int]) {
        switch kind {
        case .gpt2:
            appendGPT2PieceEnds(text, range, &ends)
        case .llama3:
            var position = range.lowerBound
            while position < range.upperBound {
                position = llama3PieceEnd(text, position, range.upperBound)
                ends.append(position)
            }
        case .smollm:
            // Digits(individual_digits): each \p{N} is a piece; GPT-2 runs on what lies between.
            var runStart = range.lowerBound
            for index in range where text.classes[index] & ScalarText.Class.number != 0 {
                if runStart < index { appendGPT2PieceEnds(text, runStart..<index, &ends) }
                ends.append(index + 1)
                runStart = index + 1
            }
            if runStart < range.upperBound { appendGPT2PieceEnds(text, runStart..<range.upperBound, &ends) }
        }
    }

    private func appendGPT2PieceEnds(_ text: ScalarText, _ range: Range<Int>, _ ends: inout [Int]) {
        var position = range.lowerBound
        while position < range.upperBound {
            position = gpt2PieceEnd(text, position, range.upperBound)
            ends.append(position)
        }
    }
}

private typealias Class = ScalarText.Class

/// Where the GPT-2 pattern's match starting at `start` ends (the segment ends at `end`):
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
private func gpt2PieceEnd(_ text: ScalarText, _ start: Int, _ end: Int) -> Int {
    let classes = text.classes
    let first = classes[start]
    if first & Class.apostrophe != 0, let length = contractionLength(text, start, end, caseInsensitive: false) {
        return start + length
    }
    // ` ?X+` where X is \p{L}, \p{N} or [^\s\p{L}\p{N}]: the space is taken only if X follows it.
    var runStart = start
    if first & Class.space != 0, start + 1 < end, classes[start + 1] & Class.whitespace == 0 {
        runStart = start + 1
    }
    let kind = classes[runStart] & (Class.letter | Class.number | Class.whitespace)
    if kind != Class.whitespace {
        // Letters, numbers and "other" are disjoint classes; a run is a maximal stretch of one.
        var index = runStart + 1
        while index < end, classes[index] & (Class.letter | Class.number | Class.whitespace) == kind {
            index += 1
        }
        return index
    }
    return whitespacePieceEnd(classes, start, end)
}

/// `\s+(?!\S)|\s+` at a whitespace scalar: a run followed by a non-space gives its last scalar back
/// (so " word" keeps its space), unless the run is a single scalar.
private func whitespacePieceEnd(_ classes: [UInt8], _ start: Int, _ end: Int) -> Int {
    var runEnd = start + 1
    while runEnd < end, classes[runEnd] & Class.whitespace != 0 { runEnd += 1 }
    if runEnd == end || runEnd - start == 1 { return runEnd }
    return runEnd - 1
}

/// Length of the contraction `'s|'t|'re|'ve|'m|'ll|'d` at `start`, if one is there.
private func contractionLength(_ text: ScalarText, _ start: Int, _ end: Int, caseInsensitive: Bool) -> Int? {
    func letter(_ index: Int) -> UInt32? {
        guard index < end else { return nil }
        let value = text.scalars[index]
        // Only ASCII letters fold: (?i) on 's' also matches U+017F ſ and 'k' U+212A, but the
        // contractions contain neither 'k' nor a position where ſ could stand except 's'.
        if caseInsensitive, value >= 0x41, value <= 0x5A { return value + 0x20 }
        if caseInsensitive, value == 0x17F { return 0x73 }
        return value
    }
    switch letter(start + 1) {
    case 0x73, 0x74, 0x6D, 0x64: // s t m d
        return 2
    case 0x72, 0x76: // r v → 're 've
        return letter(start + 2) == 0x65 ? 3 : nil
    case 0x6C: // l → 'll
        return letter(start + 2) == 0x6C ? 3 : nil
    default:
        return nil
    }
}

/// Where the Llama 3 pattern's match starting at `start` ends:
/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
private func llama3PieceEnd(_ text: ScalarText, _ start: Int, _ end: Int) -> Int {
    let classes = text.classes
    let first = classes[start]
    if first & Class.apostrophe != 0, let length = contractionLength(text, start, end, caseInsensitive: true) {
        return start + length
    }
    func isLetter(_ index: Int) -> Bool { index < end && classes[index] & Class.letter != 0 }
    func isOther(_ index: Int) -> Bool {
        index < end && classes[index] & (Class.letter | Class.number | Class.whitespace) == 0
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    var letterStart: Int?
    if first & Class.letter != 0 {
        letterStart = start
    } else if first & (Class.newline | Class.number) == 0, isLetter(start + 1) {
        letterStart = start + 1
    }
    if var index = letterStart {
        while isLetter(index) { index += 1 }
        return index
    }
    // \p{N}{1,3}
    if first & Class.number != 0 {
        var index = start + 1
        while index < end, index < start + 3, classes[index] & Class.number != 0 { index += 1 }
        return index
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    let otherStart = (first & Class.space != 0 && isOther(start + 1)) ? start + 1 : start
    if isOther(otherStart) {
        var index = otherStart + 1
        while isOther(index) { index += 1 }
        while index < end, classes[index] & Class.newline != 0 { index += 1 }
        return index
    }
    // Whitespace from here on. `\s*[\r\n]+` ends just after the run's last newline, if it has one.
    var runEnd = start + 1
    while runEnd < end, classes[runEnd] & Class.whitespace != 0 { runEnd += 1 }
    if let lastNewline = (start..<runEnd).last(where: { classes[$0] & Class.newline != 0 }) {
        return lastNewline + 1
    }
    return whitespacePieceEnd(classes, start, end)
}
