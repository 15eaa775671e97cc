/// Makes deterministic prompts of roughly a requested number of tokens.
///
/// A prompt of N "tokens" is N words drawn from a fixed list of common lowercase English
/// words joined by single spaces. Byte-level BPE vocabularies (GPT-2 style) split text at
/// spaces before merging, and hold each of these words with its leading space as one token,
/// so N words encode to N tokens, give or take the first word (which has no leading space).
/// Checked against SmolLM2's vocabulary: all the words are single tokens there; for other
/// vocabularies expect about ±10%. Chat requests add the chat template's own tokens. There is
/// no tokenizer here because the load generator is a black box.
public enum PromptSynthesizer {
    /// The word list; every entry is a frequent short English word.
    public static let words: [String] = """
    the of and to in is was for on that with as by at from it his an were are which this be has \
    had not but or have they one its after their first new two been also who more other time \
    year years when all over into most can there only made may some would about up out three \
    such world used between during city under many people she then part school game where war \
    these him through team while state both season four well known her film same because early \
    later found several each since family five last back home series life album music form name \
    based number work including day second local group until village before around called death \
    high great north south east west old river small large long house water land book story \
    light power place road line field play side open center point sound color paper table chair \
    window door garden green blue red white black quiet warm cold bright dark fast slow happy \
    simple common public
    """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)

    /// A prompt of `tokens` words drawn with `rng`.
    public static func prompt<G: RandomNumberGenerator>(tokens: Int, using rng: inout G) -> String {
        var text = ""
        text.reserveCapacity(tokens * 6)
        for i in 0..<max(tokens, 1) {
            if i > 0 { text += " " }
            text += words[rng.nextIndex(below: words.count)]
        }
        return text
    }
}
