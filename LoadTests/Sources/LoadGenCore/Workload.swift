/// Which OpenAI endpoint a workload drives.
public enum APIKind: String, Codable, Sendable, CaseIterable {
    /// `POST /v1/completions` with a `prompt`.
    case completions
    /// `POST /v1/chat/completions` with one user message.
    case chat

    /// The request path on the server.
    public var path: String { self == .chat ? "/v1/chat/completions" : "/v1/completions" }
}

/// Everything that decides what requests a run sends (but not when): a pure description.
public struct WorkloadSpec: Codable, Sendable, Equatable {
    /// Model names to spread requests over (base model and/or adapters), most popular first.
    public var modelNames: [String]
    /// How requests spread over `modelNames`.
    public var popularity: Popularity
    /// Prompt length in (approximate) tokens.
    public var promptTokens: LengthDistribution
    /// `max_tokens` of each request.
    public var maxTokens: LengthDistribution
    /// Completions or chat.
    public var api: APIKind
    /// Whether to ask for a server-sent-event stream.
    public var stream: Bool
    /// Sampling temperature (0 = greedy, required for verification).
    public var temperature: Double
    /// Number of distinct (prompt, max_tokens) pairs to draw from; 0 gives every request its own.
    ///
    /// A finite pool is what makes `--verify` affordable: expected outputs are needed per
    /// distinct (model, prompt, max_tokens), not per request.
    public var distinctPrompts: Int
    /// Seed of every random choice.
    public var seed: UInt64
    /// Whether to send the `return_token_ids` extension field (verification uses the ids).
    public var returnTokenIDs: Bool
    /// Whether to send the `ignore_eos` extension field: every request then generates exactly
    /// its `max_tokens`, so throughput compares like with like across adapters and runs.
    public var ignoreEOS: Bool
    /// The base model's name, when known, to tell it from the adapters in reports.
    public var baseModel: String?

    /// How many of the model names are adapters (all but the base model).
    public var adapterCount: Int { modelNames.filter { $0 != baseModel }.count }

    /// A workload description; see the properties for the meaning of each field.
    public init(modelNames: [String], popularity: Popularity = .uniform, promptTokens: LengthDistribution = .fixed(128),
                maxTokens: LengthDistribution = .fixed(64), api: APIKind = .completions, stream: Bool = true,
                temperature: Double = 0, distinctPrompts: Int = 0, seed: UInt64 = 1, returnTokenIDs: Bool = false,
                ignoreEOS: Bool = false, baseModel: String? = nil) {
        self.modelNames = modelNames
        self.popularity = popularity
        self.promptTokens = promptTokens
        self.maxTokens = maxTokens
        self.api = api
        self.stream = stream
        self.temperature = temperature
        self.distinctPrompts = distinctPrompts
        self.seed = seed
        self.returnTokenIDs = returnTokenIDs
        self.ignoreEOS = ignoreEOS
        self.baseModel = baseModel
    }
}

/// One request to send, fully determined by the workload and its index.
public struct RequestSpec: Sendable, Equatable {
    /// Position in the run's request sequence (0-based).
    public var index: Int
    /// The `model` field: base model or adapter name.
    public var model: String
    /// The prompt text (the user message for chat).
    public var prompt: String
    /// `max_tokens`.
    public var maxTokens: Int
    /// Completions or chat.
    public var api: APIKind
    /// Whether to stream.
    public var stream: Bool
    /// Sampling temperature.
    public var temperature: Double
    /// The per-request `seed` field (only matters when temperature > 0).
    public var samplingSeed: Int
    /// Whether to ask for token ids.
    public var returnTokenIDs: Bool
    /// Whether to generate past end-of-sequence up to `maxTokens`.
    public var ignoreEOS: Bool

    /// A request; see the properties.
    public init(index: Int, model: String, prompt: String, maxTokens: Int, api: APIKind, stream: Bool, temperature: Double,
                samplingSeed: Int, returnTokenIDs: Bool, ignoreEOS: Bool = false) {
        self.index = index
        self.model = model
        self.prompt = prompt
        self.maxTokens = maxTokens
        self.api = api
        self.stream = stream
        self.temperature = temperature
        self.samplingSeed = samplingSeed
        self.returnTokenIDs = returnTokenIDs
        self.ignoreEOS = ignoreEOS
    }

    /// The identity under which verification looks up the expected output.
    public var verifyKey: VerifyKey { VerifyKey(model: model, api: api, prompt: prompt, maxTokens: maxTokens, ignoreEOS: ignoreEOS) }
}

/// Names of the independent random streams derived from one seed, so that adding draws to one
/// (say, the schedule) never shifts another (say, the request sequence).
public enum RandomStream {
    /// Stream of the prompt pool entry `k`.
    public static func promptPool(_ k: Int) -> UInt64 { (1 << 40) &+ UInt64(k) }
    /// Stream of the open-loop arrival schedule.
    public static let schedule: UInt64 = 1 << 50
    /// Stream of the adapter swapper's choices.
    public static let swapper: UInt64 = 1 << 51
}

/// Turns a `WorkloadSpec` into the request sequence: request *i* depends only on (seed, i).
public struct Workload: Sendable {
    /// The description this workload expands.
    public let spec: WorkloadSpec
    private let chooser: ModelChooser

    /// Validates `spec` and prepares the model chooser.
    public init(_ spec: WorkloadSpec) throws(ConfigError) {
        guard !spec.modelNames.isEmpty else { throw ConfigError.inconsistent("the workload has no model names") }
        guard spec.distinctPrompts >= 0 else {
            throw ConfigError.invalidValue(option: "--distinct-prompts", value: "\(spec.distinctPrompts)", reason: "must be ≥ 0")
        }
        guard spec.temperature >= 0 else {
            throw ConfigError.invalidValue(option: "--temperature", value: "\(spec.temperature)", reason: "must be ≥ 0")
        }
        self.spec = spec
        chooser = ModelChooser(names: spec.modelNames, popularity: spec.popularity)
    }

    /// Request number `index` of the sequence.
    public func request(at index: Int) -> RequestSpec {
        var rng = Xoshiro256(seed: spec.seed, stream: UInt64(index))
        let model = chooser.pick(using: &rng)
        let (prompt, maxTokens): (String, Int)
        if spec.distinctPrompts > 0 {
            (prompt, maxTokens) = poolEntry(rng.nextIndex(below: spec.distinctPrompts))
        } else {
            (prompt, maxTokens) = draw(using: &rng)
        }
        return RequestSpec(
            index: index, model: model, prompt: prompt, maxTokens: maxTokens, api: spec.api, stream: spec.stream,
            temperature: spec.temperature, samplingSeed: Int(rng.next() & 0x7FFF_FFFF), returnTokenIDs: spec.returnTokenIDs,
            ignoreEOS: spec.ignoreEOS)
    }

    /// Pool entry `k`: the same prompt and length every time it is drawn.
    public func poolEntry(_ k: Int) -> (prompt: String, maxTokens: Int) {
        var rng = Xoshiro256(seed: spec.seed, stream: RandomStream.promptPool(k))
        return draw(using: &rng)
    }

    /// The distinct verification keys a run will use: those of the first `requests` requests
    /// when the run is bounded by count, otherwise every model with every pool entry (which
    /// needs a finite pool: `distinctPrompts` > 0).
    public func distinctKeys(requests: Int?) throws(ConfigError) -> [VerifyKey] {
        var seen = Set<VerifyKey>()
        var keys: [VerifyKey] = []
        func add(_ key: VerifyKey) { if seen.insert(key).inserted { keys.append(key) } }
        if let requests {
            for i in 0..<requests { add(request(at: i).verifyKey) }
        } else {
            guard spec.distinctPrompts > 0 else {
                throw ConfigError.inconsistent("verifying a run bounded only by duration needs --distinct-prompts > 0")
            }
            let pool = (0..<spec.distinctPrompts).map(poolEntry)
            for model in spec.modelNames {
                for entry in pool { add(VerifyKey(model: model, api: spec.api, prompt: entry.prompt, maxTokens: entry.maxTokens,
                                            ignoreEOS: spec.ignoreEOS)) }
            }
        }
        return keys
    }

    private func draw<G: RandomNumberGenerator>(using rng: inout G) -> (String, Int) {
        let promptLength = spec.promptTokens.sample(using: &rng)
        let maxTokens = spec.maxTokens.sample(using: &rng)
        return (PromptSynthesizer.prompt(tokens: promptLength, using: &rng), maxTokens)
    }
}
