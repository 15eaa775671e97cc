import Foundation

/// The identity of a greedy request whose output is known in advance.
public struct VerifyKey: Hashable, Codable, Sendable {
    /// The `model` field.
    public var model: String
    /// Completions or chat.
    public var api: APIKind
    /// The prompt text.
    public var prompt: String
    /// `max_tokens`.
    public var maxTokens: Int
    /// Whether the request generated past end-of-sequence (`ignore_eos`).
    public var ignoreEOS: Bool

    /// A key; see the properties.
    public init(model: String, api: APIKind, prompt: String, maxTokens: Int, ignoreEOS: Bool = false) {
        self.model = model
        self.api = api
        self.prompt = prompt
        self.maxTokens = maxTokens
        self.ignoreEOS = ignoreEOS
    }
}

/// The expected output of one key: text always, token ids when the server returns them.
public struct ExpectedOutput: Codable, Sendable, Equatable {
    /// Which request this is the answer to.
    public var key: VerifyKey
    /// The generated text.
    public var text: String
    /// The generated token ids, if known.
    public var tokenIDs: [Int]?

    /// An expectation; see the properties.
    public init(key: VerifyKey, text: String, tokenIDs: [Int]?) {
        self.key = key
        self.text = text
        self.tokenIDs = tokenIDs
    }
}

/// A set of expected outputs, as computed before a run or read from a JSON file.
///
/// File format: `{"entries": [{"key": {"model", "api", "prompt", "maxTokens"}, "text", "tokenIDs"}]}`,
/// which is also what `--verify-save` writes.
public struct ExpectedOutputs: Codable, Sendable {
    /// All expectations, in the order they were computed.
    public private(set) var entries: [ExpectedOutput]
    private var index: [VerifyKey: Int]

    enum CodingKeys: String, CodingKey { case entries }

    /// A set from a list (a later duplicate key wins).
    public init(_ entries: [ExpectedOutput]) {
        self.entries = entries
        index = Dictionary(entries.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { _, later in later })
    }

    /// Decodes the file format.
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.container(keyedBy: CodingKeys.self).decode([ExpectedOutput].self, forKey: .entries))
    }

    /// Encodes the file format.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(entries, forKey: .entries)
    }

    /// The expectation for `key`, if any.
    public subscript(key: VerifyKey) -> ExpectedOutput? { index[key].map { entries[$0] } }

    /// Reads a file written by `save(to:)`.
    public static func load(from path: String) throws(ConfigError) -> ExpectedOutputs {
        guard let data = FileManager.default.contents(atPath: path) else { throw .file(path: path, reason: "cannot read") }
        do { return try JSONDecoder().decode(ExpectedOutputs.self, from: data) } catch {
            throw .file(path: path, reason: "not an expected-outputs file: \(error)")
        }
    }

    /// Writes the file format to `path`.
    public func save(to path: String) throws(ConfigError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do { try encoder.encode(self).write(to: URL(fileURLWithPath: path)) } catch {
            throw .file(path: path, reason: "cannot write: \(error)")
        }
    }
}

/// A request whose output under load differed from the expectation.
public struct Mismatch: Codable, Sendable, Equatable {
    /// Index of the request in the run.
    public var requestIndex: Int
    /// What was asked.
    public var key: VerifyKey
    /// "tokenIDs" when ids were compared, "text" otherwise.
    public var comparedBy: String
    /// Position (token or character) of the first difference.
    public var firstDifference: Int
    /// The expected text.
    public var expectedText: String
    /// The text received.
    public var gotText: String
    /// The expected ids, if compared by ids.
    public var expectedTokenIDs: [Int]?
    /// The ids received, if compared by ids.
    public var gotTokenIDs: [Int]?

    /// A mismatch; see the properties.
    public init(requestIndex: Int, key: VerifyKey, comparedBy: String, firstDifference: Int, expectedText: String,
                gotText: String, expectedTokenIDs: [Int]? = nil, gotTokenIDs: [Int]? = nil) {
        self.requestIndex = requestIndex
        self.key = key
        self.comparedBy = comparedBy
        self.firstDifference = firstDifference
        self.expectedText = expectedText
        self.gotText = gotText
        self.expectedTokenIDs = expectedTokenIDs
        self.gotTokenIDs = gotTokenIDs
    }
}

/// What verification found in one run.
public struct VerifySummary: Codable, Sendable, Equatable {
    /// Successful requests that had an expectation and were compared.
    public var checked = 0
    /// Of those, how many matched.
    public var matched = 0
    /// Successful requests with no expectation (e.g. missing from a --verify-file).
    public var unverified = 0
    /// How many differed (may exceed `mismatches.count`, which keeps the first few).
    public var mismatched = 0
    /// The first mismatches, with full detail.
    public var mismatches: [Mismatch] = []

    /// An empty summary.
    public init() {}
}

/// Why expected outputs could not be computed.
public enum VerifyError: Error, CustomStringConvertible {
    /// A reference request failed; verification cannot proceed without its answer.
    case referenceFailed(VerifyKey, RequestFailure)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .referenceFailed(let key, let failure):
            return "reference request for model \(key.model) (max_tokens \(key.maxTokens)) failed: \(failure)"
        }
    }
}

/// Computes expected outputs and compares outcomes against them.
public enum Verifier {
    /// How many mismatches a summary keeps in full.
    public static let keptMismatches = 50

    /// Sends each key once, one at a time (so nothing is batched with it), and records the answers.
    public static func computeExpectations(
        for keys: [VerifyKey], executor: RequestExecutor, stream: Bool, progress: (Int, Int) -> Void = { _, _ in }
    ) throws(VerifyError) -> ExpectedOutputs {
        var entries: [ExpectedOutput] = []
        for (i, key) in keys.enumerated() {
            progress(i, keys.count)
            let spec = RequestSpec(index: i, model: key.model, prompt: key.prompt, maxTokens: key.maxTokens, api: key.api,
                                   stream: stream, temperature: 0, samplingSeed: 0, returnTokenIDs: true,
                                   ignoreEOS: key.ignoreEOS)
            let outcome = executor.execute(spec)
            if let failure = outcome.failure { throw .referenceFailed(key, failure) }
            entries.append(ExpectedOutput(key: key, text: outcome.text, tokenIDs: outcome.tokenIDs))
        }
        progress(keys.count, keys.count)
        return ExpectedOutputs(entries)
    }

    /// Compares a successful outcome with its expectation: by token ids when both sides have
    /// them, else by text. Returns nil when they agree.
    public static func compare(_ outcome: RequestOutcome, with expected: ExpectedOutput) -> Mismatch? {
        let byIDs = expected.tokenIDs != nil && outcome.tokenIDs != nil
        let difference: Int?
        if byIDs {
            difference = firstDifference(expected.tokenIDs ?? [], outcome.tokenIDs ?? [])
        } else {
            difference = firstDifference(Array(expected.text), Array(outcome.text))
        }
        guard let difference else { return nil }
        return Mismatch(requestIndex: outcome.spec.index, key: expected.key, comparedBy: byIDs ? "tokenIDs" : "text",
                        firstDifference: difference, expectedText: expected.text, gotText: outcome.text,
                        expectedTokenIDs: byIDs ? expected.tokenIDs : nil, gotTokenIDs: byIDs ? outcome.tokenIDs : nil)
    }

    /// The first index where the sequences differ (including one being a prefix of the other), or nil if equal.
    static func firstDifference<T: Equatable>(_ a: [T], _ b: [T]) -> Int? {
        for i in 0..<min(a.count, b.count) where a[i] != b[i] { return i }
        return a.count == b.count ? nil : min(a.count, b.count)
    }
}
