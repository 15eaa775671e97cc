import Foundation
import TestSupport
import ModelFormats
import Tokenizer

/// Fixture files and the SmolLM2 tokenizer, located from this source file (not the working directory).
enum TokenizerFixtures {
    /// The SmolLM2 GGUF; git-ignored, so a bare checkout may lack it (tests that need it are skipped).
    static let modelPath = Fixtures.smolLM2Path

    /// Whether the SmolLM2 GGUF is present.
    static let hasModel = Fixtures.hasSmolLM2

    /// Decodes `Tests/Fixtures/tokenizer/<name>`.
    static func json<T: Decodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        try Fixtures.json("tokenizer/" + name)
    }

    /// The SmolLM2 GGUF's tokenizer metadata, read once.
    static let metadata: Result<[String: GGUFValue], any Error> = Result {
        try GGUFFile(path: modelPath).metadata
    }

    /// The SmolLM2 tokenizer, built once from the GGUF through ModelFormats.
    static let smolLM2: Result<BPETokenizer, any Error> = Result {
        try BPETokenizer(spec: TokenizerSpec(gguf: metadata.get()))
    }

    static let corpus: Result<[CorpusEntry], any Error> = Result { try json("corpus.json") }
}

/// One entry of corpus.json: HF `tokenizers`' ids for `text`, and its decoding of them.
struct CorpusEntry: Decodable, Sendable {
    let text: String
    let ids: [Int]
    let decoded: String
}

/// One conversation of chat.json / llama3-chat.json: the rendered prompt and (ChatML only) its ids.
struct ChatFixture: Decodable, Sendable {
    let messages: [ChatMessage]
    let rendered: String
    let ids: [Int]?
}

/// A string with its invisible characters escaped, for failure messages.
func visible(_ text: String) -> String {
    text.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? String($0) : $0.escaped(asASCII: true) }
        .joined()
}
