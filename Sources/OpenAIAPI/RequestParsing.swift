import Adapters
import Engine
import Tokenizer

/// What request parsing needs to know about the model being served.
struct ParsingContext {
    let tokenizer: BPETokenizer
    let chatTemplate: () throws -> ChatTemplate
    let contextLength: Int
    let vocabularySize: Int
    let defaultStopTokens: Set<Int>
    /// Resolves the `model` field: `.base`, an adapter, or nil (unknown).
    let resolveModel: (String) -> ModelChoice?
    let limits: APILimits
    let tenant: String
}

/// The `model` field resolved.
enum ModelChoice {
    case base
    case adapter(Adapter)
    /// A known adapter evicted under the memory budget: reload, then parse again.
    case evicted(String)
}

/// Bounds on what one request may ask for.
public struct APILimits: Sendable {
    /// Most choices (n × prompts) per request.
    public var maxChoices: Int
    /// Largest max_tokens accepted (also bounded by the context).
    public var maxTokens: Int
    /// Largest top_logprobs.
    public var maxTopLogprobs: Int

    /// Defaults: 16 choices, max_tokens bounded by the context only, 20 alternatives.
    public init(maxChoices: Int = 16, maxTokens: Int = 1 << 20, maxTopLogprobs: Int = 20) {
        self.maxChoices = maxChoices
        self.maxTokens = maxTokens
        self.maxTopLogprobs = maxTopLogprobs
    }
}

enum RequestParsing {
    /// `POST /v1/completions`.
    static func completion(_ body: [UInt8], _ context: ParsingContext) throws(APIError) -> GenerationPlan {
        let fields = try RequestFields(body: body)
        let prompts = try completionPrompts(fields, context)
        let logprobs = try fields.int("logprobs", in: 0...context.limits.maxTopLogprobs)
        if try fields.bool("echo") == true {
            throw .invalidRequest(message: "'echo' is not supported.", param: "echo")
        }
        if let suffix = try fields.string("suffix"), !suffix.isEmpty {
            throw .invalidRequest(message: "'suffix' is not supported.", param: "suffix")
        }
        return try plan(.completions, fields, context, prompts: prompts, promptParam: "prompt", defaultMaxTokens: 16,
                        logprobs: logprobs)
    }

    /// `POST /v1/chat/completions`: messages rendered through the model's chat template.
    static func chat(_ body: [UInt8], _ context: ParsingContext) throws(APIError) -> GenerationPlan {
        let fields = try RequestFields(body: body)
        guard case .array(let items)? = fields.value("messages"), !items.isEmpty else {
            throw fields.value("messages") == nil
                ? .invalidRequest(message: "'messages' is required.", param: "messages")
                : fields.fail("messages", "a non-empty array of messages")
        }
        var messages: [ChatMessage] = []
        for (i, item) in items.enumerated() {
            guard case .object(let object) = item else { throw fields.fail("messages", "an array of objects") }
            let message = RequestFields(values: object, path: "messages[\(i)].")
            let role = try message.requiredString("role")
            guard ["system", "user", "assistant", "developer", "tool"].contains(role) else {
                throw message.outOfRange("role", "must be system, user, assistant, developer or tool")
            }
            messages.append(ChatMessage(role: role == "developer" ? "system" : role, content: try messageText(message)))
        }
        let template: ChatTemplate
        do { template = try context.chatTemplate() } catch {
            throw .invalidRequest(message: "This model has no chat template the server can render; use /v1/completions.",
                                  param: "messages")
        }
        let text = template.render(messages, addGenerationPrompt: true)
        let prompt = context.tokenizer.encode(text, addBOS: context.tokenizer.addsBOS && !template.rendersBOS)
        var logprobs: Int?
        if try fields.bool("logprobs") == true {
            logprobs = try fields.int("top_logprobs", in: 0...context.limits.maxTopLogprobs) ?? 0
        } else if fields.value("top_logprobs") != nil {
            throw .invalidRequest(message: "'top_logprobs' needs 'logprobs': true.", param: "top_logprobs")
        }
        return try plan(.chat, fields, context, prompts: [prompt], promptParam: "messages", defaultMaxTokens: nil,
                        logprobs: logprobs)
    }

    /// Message content: a string, or a list of text parts.
    private static func messageText(_ message: RequestFields) throws(APIError) -> String {
        switch message.value("content") {
        case .string(let text)?: return text
        case nil: return ""
        case .array(let parts)?:
            var text = ""
            for part in parts {
                guard case .object(let object) = part else { throw message.fail("content", "a string or an array of text parts") }
                let fields = RequestFields(values: object, path: message.path + "content[].")
                guard try fields.string("type") == "text" else {
                    throw fields.outOfRange("type", "must be \"text\" (this model reads text only)")
                }
                text += try fields.requiredString("text")
            }
            return text
        default: throw message.fail("content", "a string or an array of text parts")
        }
    }

    /// `prompt`: a string, a list of strings, a list of token ids, or a list of lists of ids.
    private static func completionPrompts(_ fields: RequestFields, _ context: ParsingContext) throws(APIError) -> [[Int]] {
        let expected = "a string, an array of strings, an array of token ids or an array of arrays of token ids"
        func ids(_ items: [JSONValue]) throws(APIError) -> [Int] {
            var tokens: [Int] = []
            for item in items {
                guard case .number(let value) = item, value == value.rounded(), value >= 0,
                      value < Double(context.vocabularySize) else {
                    throw fields.outOfRange("prompt", "token ids must be integers in 0..<\(context.vocabularySize)")
                }
                tokens.append(Int(value))
            }
            return tokens
        }
        let encode = { (text: String) in context.tokenizer.encode(text, addBOS: context.tokenizer.addsBOS) }
        switch fields.value("prompt") {
        case nil: throw .invalidRequest(message: "'prompt' is required.", param: "prompt")
        case .string(let text)?: return [encode(text)]
        case .array(let items)?:
            guard let first = items.first else { throw fields.outOfRange("prompt", "must not be empty") }
            switch first {
            case .string:
                var prompts: [[Int]] = []
                for item in items {
                    guard case .string(let text) = item else { throw fields.fail("prompt", expected) }
                    prompts.append(encode(text))
                }
                return prompts
            case .number: return [try ids(items)]
            case .array:
                var prompts: [[Int]] = []
                for item in items {
                    guard case .array(let inner) = item else { throw fields.fail("prompt", expected) }
                    prompts.append(try ids(inner))
                }
                return prompts
            default: throw fields.fail("prompt", expected)
            }
        default: throw fields.fail("prompt", expected)
        }
    }

    /// The fields both endpoints share.
    private static func plan(_ endpoint: Endpoint, _ fields: RequestFields, _ context: ParsingContext, prompts: [[Int]],
                             promptParam: String, defaultMaxTokens: Int?, logprobs: Int?) throws(APIError) -> GenerationPlan {
        let model = try fields.requiredString("model")
        let adapter: Adapter?
        switch context.resolveModel(model) {
        case .base?: adapter = nil
        case .adapter(let found)?: adapter = found
        case .evicted(let name)?: throw .adapterEvicted(name)
        case nil: throw .modelNotFound(model)
        }
        let scale = try fields.number("adapter_scale", in: -16...16).map(Float.init)
        if let scale, scale != 1, adapter == nil || !(adapter!.kind == .lora || adapter!.kind == .dora) {
            throw .invalidRequest(message: "'adapter_scale' applies to LoRA and DoRA adapters only.", param: "adapter_scale")
        }
        let n = try fields.int("n", in: 1...context.limits.maxChoices) ?? 1
        guard n * prompts.count <= context.limits.maxChoices else {
            throw .invalidRequest(message: "At most \(context.limits.maxChoices) choices (prompts × n) per request.", param: "n")
        }
        var parameters = SamplingParameters()
        parameters.temperature = Float(try fields.number("temperature", in: 0...2) ?? 1)
        parameters.topP = Float(try fields.number("top_p", in: 0...1) ?? 1)
        if parameters.topP == 0 { throw fields.outOfRange("top_p", "must be greater than 0") }
        parameters.topK = try fields.int("top_k", in: -1...1_000_000).map { max($0, 0) } ?? 0
        parameters.presencePenalty = Float(try fields.number("presence_penalty", in: -2...2) ?? 0)
        parameters.frequencyPenalty = Float(try fields.number("frequency_penalty", in: -2...2) ?? 0)
        parameters.seed = try fields.int("seed", in: Int(Int64.min)...Int(Int64.max)).map { UInt64(bitPattern: Int64($0)) }
        parameters.stopStrings = try fields.stopStrings("stop")
        // Extension (as in vLLM): keep generating past end-of-sequence, for fixed-length load tests.
        parameters.stopTokenIDs = try fields.bool("ignore_eos") == true ? [] : context.defaultStopTokens
        parameters.logprobs = logprobs
        _ = try fields.string("user")

        let virtual = adapter?.virtualTokenCount ?? 0
        let longest = prompts.map(\.count).max() ?? 0
        if prompts.contains(where: \.isEmpty) { throw fields.outOfRange(promptParam, "must not be empty") }
        let room = context.contextLength - longest - virtual
        guard room > 0 else {
            throw .contextLengthExceeded(
                message: "This server's maximum context length is \(context.contextLength) tokens; the prompt has \(longest)"
                    + (virtual > 0 ? " plus \(virtual) virtual tokens of the adapter." : "."), param: promptParam)
        }
        var maxTokens = try fields.int("max_completion_tokens", in: 1...context.limits.maxTokens)
        if maxTokens == nil { maxTokens = try fields.int("max_tokens", in: 1...context.limits.maxTokens) }
        if let maxTokens, maxTokens > room {
            throw .contextLengthExceeded(
                message: "This server's maximum context length is \(context.contextLength) tokens. However, you requested "
                    + "\(longest + virtual + maxTokens) tokens (\(longest + virtual) in the prompt, \(maxTokens) for the completion).",
                param: fields.value("max_completion_tokens") != nil ? "max_completion_tokens" : "max_tokens")
        }
        parameters.maxTokens = min(maxTokens ?? defaultMaxTokens ?? room, room, context.limits.maxTokens)

        let stream = try fields.bool("stream") ?? false
        let options = try fields.object("stream_options")
        if options != nil && !stream {
            throw .invalidRequest(message: "'stream_options' is only allowed with 'stream': true.", param: "stream_options")
        }
        return GenerationPlan(endpoint: endpoint, model: model,
                              adapter: adapter.map { AdapterUse($0, scale: scale ?? 1) }, prompts: prompts, n: n,
                              parameters: parameters, stream: stream, includeUsage: try options?.bool("include_usage") ?? false,
                              logprobs: logprobs, returnTokenIDs: try fields.bool("return_token_ids") ?? false,
                              tenant: context.tenant)
    }
}
