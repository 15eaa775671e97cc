import Adapters
import Engine
import Foundation

/// Every error the API answers with, and the one table mapping each to an HTTP status and an
/// OpenAI-style body `{"error": {"message", "type", "param", "code"}}`.
public enum APIError: Error, Equatable, Sendable {
    /// Malformed JSON or a field of the wrong type or value; `param` names the field.
    case invalidRequest(message: String, param: String?)
    /// Prompt (plus virtual tokens) and max_tokens do not fit the model's context.
    case contextLengthExceeded(message: String, param: String)
    /// The `model` field names neither the base model nor a loaded adapter.
    case modelNotFound(String)
    /// No such route.
    case notFound(path: String)
    /// The route exists but not with this method.
    case methodNotAllowed(method: String, allowed: [String])
    /// The waiting queue is full.
    case rateLimited(message: String, retryAfterSeconds: Int)
    /// Starting up or draining for shutdown.
    case unavailable(message: String)
    /// Missing or wrong API key.
    case unauthorized(message: String)
    /// A valid key that may not do this (manage an adapter outside its tenant's names).
    case forbidden(message: String)
    /// An adapter could not be loaded (admin API): the reason is the loader's.
    case adapterRejected(message: String)
    /// A bug or an unexpected failure: the detail is logged, never shown.
    case internalError
    /// Internal signal, never sent: the named adapter must be reloaded before the request runs.
    case adapterEvicted(String)

    /// HTTP status of the error.
    public var status: Int {
        switch self {
        case .invalidRequest, .contextLengthExceeded, .adapterRejected: return 400
        case .unauthorized: return 401
        case .forbidden: return 403
        case .modelNotFound, .notFound: return 404
        case .methodNotAllowed: return 405
        case .rateLimited: return 429
        case .internalError, .adapterEvicted: return 500
        case .unavailable: return 503
        }
    }

    /// OpenAI's error `type`.
    var type: String {
        switch self {
        case .invalidRequest, .contextLengthExceeded, .modelNotFound, .notFound, .methodNotAllowed, .adapterRejected:
            return "invalid_request_error"
        case .unauthorized: return "authentication_error"
        case .forbidden: return "permission_error"
        case .rateLimited: return "rate_limit_exceeded"
        case .unavailable: return "service_unavailable"
        case .internalError, .adapterEvicted: return "server_error"
        }
    }

    /// OpenAI's error `code`.
    var code: String? {
        switch self {
        case .invalidRequest: return "invalid_value"
        case .contextLengthExceeded: return "context_length_exceeded"
        case .modelNotFound: return "model_not_found"
        case .notFound: return "not_found"
        case .methodNotAllowed: return "method_not_allowed"
        case .rateLimited: return "rate_limit_exceeded"
        case .unavailable: return "service_unavailable"
        case .unauthorized: return "invalid_api_key"
        case .forbidden: return "forbidden"
        case .adapterRejected: return "adapter_rejected"
        case .internalError, .adapterEvicted: return "internal_error"
        }
    }

    var param: String? {
        switch self {
        case let .invalidRequest(_, param): return param
        case let .contextLengthExceeded(_, param): return param
        case .modelNotFound: return "model"
        default: return nil
        }
    }

    /// What the client is told.
    public var message: String {
        switch self {
        case let .invalidRequest(message, _), let .contextLengthExceeded(message, _), let .rateLimited(message, _),
             let .unavailable(message), let .unauthorized(message), let .adapterRejected(message), let .forbidden(message):
            return message
        case let .modelNotFound(name): return "The model '\(name)' does not exist or you do not have access to it."
        case let .notFound(path): return "No route for \(path)."
        case let .methodNotAllowed(method, allowed): return "\(method) is not allowed here; use \(allowed.joined(separator: " or "))."
        case .internalError, .adapterEvicted: return "The server had an error while processing your request."
        }
    }

    /// Extra response headers (Retry-After, Allow).
    var headers: [(String, String)] {
        switch self {
        case let .rateLimited(_, seconds): return [("Retry-After", String(seconds))]
        case .unavailable: return [("Retry-After", "5")]
        case let .methodNotAllowed(_, allowed): return [("Allow", allowed.joined(separator: ", "))]
        case .unauthorized: return [("WWW-Authenticate", "Bearer")]
        default: return []
        }
    }

    /// The JSON body.
    public var body: [UInt8] {
        let error = ErrorBody.Detail(message: message, type: type, param: param, code: code)
        return (try? JSONEncoder.api.encode(ErrorBody(error: error))).map { [UInt8]($0) } ?? []
    }

    /// The API error for an engine refusal.
    static func from(_ error: EngineError) -> APIError {
        switch error {
        case let .queueFull(seconds):
            return .rateLimited(message: "The server is at capacity; retry after \(seconds) s.", retryAfterSeconds: seconds)
        case .draining:
            return .unavailable(message: "The server is shutting down.")
        }
    }
}

/// `{"error": {...}}`.
struct ErrorBody: Encodable {
    struct Detail: Encodable {
        let message: String
        let type: String
        let param: String?
        let code: String?

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(message, forKey: .message)
            try c.encode(type, forKey: .type)
            try c.encode(param, forKey: .param)   // explicit null, as OpenAI sends
            try c.encode(code, forKey: .code)
        }

        enum CodingKeys: String, CodingKey { case message, type, param, code }
    }

    let error: Detail
}

extension JSONEncoder {
    /// The encoder for every API body: snake_case keys written out by CodingKeys, no escaping of "/".
    static let api: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }()
}
