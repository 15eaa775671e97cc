import Foundation

/// Locations in the repository, found from this source file rather than the working directory.
public enum Fixtures {
    /// The package root: the nearest ancestor of this file that holds Package.swift.
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url.deleteLastPathComponent()
        }
        fatalError("no Package.swift above \(#filePath)")
    }()

    /// A path under Tests/Fixtures.
    public static func path(_ relative: String) -> String {
        root.appendingPathComponent("Tests/Fixtures").appendingPathComponent(relative).path
    }

    /// Decodes a JSON fixture.
    public static func json<T: Decodable>(_ relative: String, as type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: URL(fileURLWithPath: path(relative))))
    }

    /// The default base model, which `make test` downloads but a bare checkout may lack.
    public static let smolLM2Path = root.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path

    /// Whether the SmolLM2 GGUF is present.
    public static var hasSmolLM2: Bool { FileManager.default.fileExists(atPath: smolLM2Path) }
}

/// transformers' outputs for the tiny random models (Tests/Fixtures/tiny*/goldens*.json).
public struct TinyGoldens: Decodable, Sendable {
    /// One forward pass over `ids`; `logits[position][token]`.
    public struct Case: Decodable, Sendable {
        public let ids: [Int]
        public let logits: [[Float]]
    }
    /// A greedy continuation and the top-1/top-2 logit margin at each step.
    public struct Greedy: Decodable, Sendable {
        public let promptIDs: [Int]
        public let outputIDs: [Int]
        public let margins: [Float]
        enum CodingKeys: String, CodingKey { case promptIDs = "prompt_ids", outputIDs = "output_ids", margins }
    }
    public let cases: [Case]
    public let greedy: [Greedy]
}

/// transformers' greedy outputs for SmolLM2 (Tests/Fixtures/smollm2/greedy.json).
public struct SmolLM2Goldens: Decodable, Sendable {
    public struct Prompt: Decodable, Sendable {
        public let text: String
        public let inputIDs: [Int]
        public let outputIDs: [Int]
        public let margins: [Float]
        /// Top 20 (id, logit) pairs at the last prompt position.
        public let lastLogitsTop: [[Double]]
        enum CodingKeys: String, CodingKey {
            case text, margins
            case inputIDs = "input_ids", outputIDs = "output_ids", lastLogitsTop = "last_logits_top"
        }
    }
    public let prompts: [Prompt]
}

/// Largest |a[i] - b[i]|.
public func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
    var worst: Float = 0
    for i in a.indices { worst = max(worst, abs(a[i] - b[i])) }
    return worst
}
