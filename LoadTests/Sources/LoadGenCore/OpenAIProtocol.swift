import Foundation

/// The JSON shapes of the OpenAI-style API, only as far as the load generator reads or writes them.
public enum OpenAIProtocol {
    /// The body of a completions or chat completions request.
    public struct RequestBody: Encodable, Sendable {
        /// One chat message.
        public struct Message: Encodable, Sendable {
            /// "user", "system" or "assistant".
            public var role: String
            /// The message text.
            public var content: String
        }

        /// Asks for a final usage chunk in a stream.
        public struct StreamOptions: Encodable, Sendable {
            /// Always true here: the usage chunk gives the exact completion token count.
            public var include_usage = true
        }

        var model: String
        var prompt: String?
        var messages: [Message]?
        var max_tokens: Int
        var temperature: Double
        var seed: Int
        var stream: Bool
        var stream_options: StreamOptions?
        var return_token_ids: Bool?
        var ignore_eos: Bool?

        /// The body for `spec` (a `prompt` for completions, one user message for chat).
        public init(_ spec: RequestSpec) {
            model = spec.model
            if spec.api == .chat { messages = [Message(role: "user", content: spec.prompt)] } else { prompt = spec.prompt }
            max_tokens = spec.maxTokens
            temperature = spec.temperature
            seed = spec.samplingSeed
            stream = spec.stream
            stream_options = spec.stream ? StreamOptions() : nil
            return_token_ids = spec.returnTokenIDs ? true : nil
            ignore_eos = spec.ignoreEOS ? true : nil
        }
    }

    /// Token counts reported by the server.
    public struct Usage: Decodable, Sendable, Equatable {
        /// Tokens in the prompt (after the chat template, for chat).
        public var prompt_tokens: Int?
        /// Tokens generated.
        public var completion_tokens: Int?
    }

    /// The `message` (non-streamed chat) or `delta` (streamed chat) of a choice.
    public struct Content: Decodable, Sendable, Equatable {
        /// The role, present on the first chat delta only.
        public var role: String?
        /// The text.
        public var content: String?
    }

    /// One choice of a response or stream chunk; completions fill `text`, chat fills `message` or `delta`.
    public struct Choice: Decodable, Sendable, Equatable {
        /// Completions text (whole, or this chunk's piece).
        public var text: String?
        /// Non-streamed chat message.
        public var message: Content?
        /// Streamed chat delta.
        public var delta: Content?
        /// Why generation stopped ("stop", "length"), null until the end.
        public var finish_reason: String?
        /// Extension: the generated token ids (all of them, or this chunk's).
        public var token_ids: [Int]?

        /// The generated text of this choice, whichever field carries it.
        public var generatedText: String { text ?? message?.content ?? delta?.content ?? "" }
    }

    /// The `error` object of an error response (or of an error event inside a stream).
    public struct ErrorBody: Decodable, Sendable, Equatable {
        /// Human-readable message.
        public var message: String?
        /// Error class, e.g. "invalid_request_error".
        public var type: String?
        /// Machine-readable code, e.g. "model_not_found" (some servers send numbers; we keep text).
        public var code: String?

        enum CodingKeys: String, CodingKey { case message, type, code }

        /// Decodes leniently: `code` may be a string, a number or null.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            message = try? container.decodeIfPresent(String.self, forKey: .message)
            type = try? container.decodeIfPresent(String.self, forKey: .type)
            if let text = try? container.decodeIfPresent(String.self, forKey: .code) {
                code = text
            } else if let number = try? container.decodeIfPresent(Int.self, forKey: .code) {
                code = String(number)
            }
        }
    }

    /// A whole non-streamed response, or one stream chunk: the same fields serve both.
    public struct Response: Decodable, Sendable {
        /// The choices (empty in the final usage chunk).
        public var choices: [Choice]?
        /// Token counts (final chunk, or the whole response).
        public var usage: Usage?
        /// Present when the server reports a failure.
        public var error: ErrorBody?
    }

    /// `GET /v1/models`.
    public struct ModelList: Decodable, Sendable {
        /// One served model.
        public struct Entry: Decodable, Sendable {
            /// The name to put in the `model` field.
            public var id: String
        }

        /// The served models: base model and loaded adapters.
        public var data: [Entry]
    }

    /// `POST /v1/adapters` body.
    public struct AdapterLoad: Encodable, Sendable {
        /// Adapter name (the future `model` value).
        public var name: String
        /// Directory on the server's machine holding the adapter.
        public var path: String
    }

    /// Encodes `value` as compact JSON bytes.
    public static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding these plain structs cannot fail.
        return Array((try? encoder.encode(value)) ?? Data())
    }

    /// Decodes `bytes` as `T`, or nil if they are not that shape.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) -> T? {
        try? JSONDecoder().decode(type, from: Data(bytes))
    }
}
