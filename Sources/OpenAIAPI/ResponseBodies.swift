/// OpenAI's response and stream-chunk bodies. Field names are OpenAI's; nil optionals are
/// written as JSON null where OpenAI writes null (finish_reason, logprobs), omitted elsewhere.

struct Usage: Encodable {
    let promptTokens: Int
    let completionTokens: Int
    var totalTokens: Int { promptTokens + completionTokens }

    enum CodingKeys: String, CodingKey { case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens" }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(completionTokens, forKey: .completionTokens)
        try c.encode(totalTokens, forKey: .totalTokens)
    }
}

/// Legacy completions logprobs: parallel arrays.
struct CompletionLogprobs: Encodable {
    var tokens: [String] = []
    var tokenLogprobs: [Float] = []
    var topLogprobs: [[String: Float]] = []
    var textOffset: [Int] = []

    enum CodingKeys: String, CodingKey {
        case tokens, tokenLogprobs = "token_logprobs", topLogprobs = "top_logprobs", textOffset = "text_offset"
    }
}

/// Chat logprobs: one entry per token.
struct ChatLogprobs: Encodable {
    struct Alternative: Encodable {
        let token: String
        let logprob: Float
        let bytes: [UInt8]
    }
    struct Entry: Encodable {
        let token: String
        let logprob: Float
        let bytes: [UInt8]
        let topLogprobs: [Alternative]
        enum CodingKeys: String, CodingKey { case token, logprob, bytes, topLogprobs = "top_logprobs" }
    }
    var content: [Entry] = []
}

struct CompletionChoice: Encodable {
    let index: Int
    let text: String
    let logprobs: CompletionLogprobs?
    let finishReason: String?
    let tokenIDs: [Int]?

    enum CodingKeys: String, CodingKey { case index, text, logprobs, finishReason = "finish_reason", tokenIDs = "token_ids" }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(text, forKey: .text)
        try c.encode(logprobs, forKey: .logprobs)
        try c.encode(finishReason, forKey: .finishReason)
        try c.encodeIfPresent(tokenIDs, forKey: .tokenIDs)
    }
}

struct ChatMessageBody: Encodable {
    let role: String?
    let content: String?
}

struct ChatChoice: Encodable {
    let index: Int
    let message: ChatMessageBody?
    let delta: ChatMessageBody?
    let logprobs: ChatLogprobs?
    let finishReason: String?
    let tokenIDs: [Int]?

    enum CodingKeys: String, CodingKey {
        case index, message, delta, logprobs, finishReason = "finish_reason", tokenIDs = "token_ids"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encodeIfPresent(message, forKey: .message)
        try c.encodeIfPresent(delta, forKey: .delta)
        try c.encode(logprobs, forKey: .logprobs)
        try c.encode(finishReason, forKey: .finishReason)
        try c.encodeIfPresent(tokenIDs, forKey: .tokenIDs)
    }
}

/// A whole response or one stream chunk, of either endpoint.
struct ResponseBody<Choice: Encodable>: Encodable {
    let id: String
    let object: String
    let created: Int
    let model: String
    let choices: [Choice]
    let usage: Usage?
    let systemFingerprint: String?

    enum CodingKeys: String, CodingKey { case id, object, created, model, choices, usage, systemFingerprint = "system_fingerprint" }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(object, forKey: .object)
        try c.encode(created, forKey: .created)
        try c.encode(model, forKey: .model)
        try c.encode(choices, forKey: .choices)
        try c.encodeIfPresent(usage, forKey: .usage)
        try c.encodeIfPresent(systemFingerprint, forKey: .systemFingerprint)
    }
}

/// `GET /v1/models`.
struct ModelList: Encodable {
    struct Model: Encodable {
        let id: String
        let object = "model"
        let created: Int
        let ownedBy: String
        let root: String
        let parent: String?
        /// Switchboard extension: the adapter's kind, rank, version and bytes.
        let adapter: AdapterInfo?
        enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by", root, parent, adapter }
    }
    struct AdapterInfo: Encodable {
        let kind: String
        let rank: Int
        let version: Int
        let bytes: Int
        let virtualTokens: Int
        let base: String
        /// False when evicted under the memory budget (reloaded on the next request).
        let resident: Bool
        enum CodingKeys: String, CodingKey { case kind, rank, version, bytes, virtualTokens = "virtual_tokens", base, resident }
    }
    let object = "list"
    let data: [Model]
}
