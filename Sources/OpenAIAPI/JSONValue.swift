import Foundation

/// Any JSON value, decoded without guessing: requests are read into this first so every field
/// can be checked with an error that names it.
enum JSONValue: Decodable, Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let value = try? c.decode(Bool.self) { self = .bool(value) }
        else if let value = try? c.decode(Double.self) { self = .number(value) }
        else if let value = try? c.decode(String.self) { self = .string(value) }
        else if let value = try? c.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    /// A short name of the value's type, for error messages.
    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// Typed access to the fields of a JSON object, each failure an `APIError` naming the field.
struct RequestFields {
    let values: [String: JSONValue]
    /// Prefix for nested field names in errors ("stream_options.").
    let path: String

    /// Parses a request body, which must be a JSON object.
    init(body: [UInt8]) throws(APIError) {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(body))
        } catch {
            throw .invalidRequest(message: "The request body is not valid JSON.", param: nil)
        }
        guard case .object(let object) = value else {
            throw .invalidRequest(message: "The request body must be a JSON object, not \(value.typeName).", param: nil)
        }
        self.init(values: object, path: "")
    }

    init(values: [String: JSONValue], path: String) {
        self.values = values
        self.path = path
    }

    /// A field that is absent or null reads as nil.
    func value(_ key: String) -> JSONValue? {
        guard let value = values[key], value != .null else { return nil }
        return value
    }

    func fail(_ key: String, _ expected: String) -> APIError {
        let got = values[key]?.typeName ?? "nothing"
        return .invalidRequest(message: "'\(path)\(key)' must be \(expected), got \(got).", param: path + key)
    }

    func outOfRange(_ key: String, _ message: String) -> APIError {
        .invalidRequest(message: "'\(path)\(key)' \(message).", param: path + key)
    }

    func string(_ key: String) throws(APIError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let text) = value else { throw fail(key, "a string") }
        return text
    }

    func requiredString(_ key: String) throws(APIError) -> String {
        guard let text = try string(key) else {
            throw .invalidRequest(message: "'\(path)\(key)' is required.", param: path + key)
        }
        return text
    }

    func bool(_ key: String) throws(APIError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let flag) = value else { throw fail(key, "a boolean") }
        return flag
    }

    func number(_ key: String, in range: ClosedRange<Double>) throws(APIError) -> Double? {
        guard let value = value(key) else { return nil }
        guard case .number(let number) = value, number.isFinite else { throw fail(key, "a number") }
        guard range.contains(number) else { throw outOfRange(key, "must be between \(range.lowerBound) and \(range.upperBound)") }
        return number
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let value = value(key) else { return nil }
        guard case .number(let number) = value, number.isFinite, number == number.rounded(),
              abs(number) < 9.0e15 else { throw fail(key, "an integer") }
        let integer = Int(number)
        guard range.contains(integer) else { throw outOfRange(key, "must be between \(range.lowerBound) and \(range.upperBound)") }
        return integer
    }

    func object(_ key: String) throws(APIError) -> RequestFields? {
        guard let value = value(key) else { return nil }
        guard case .object(let object) = value else { throw fail(key, "an object") }
        return RequestFields(values: object, path: path + key + ".")
    }

    /// `stop`: a string or a list of up to 4 strings (OpenAI's limit, kept).
    func stopStrings(_ key: String) throws(APIError) -> [String] {
        guard let value = value(key) else { return [] }
        switch value {
        case .string(let text): return text.isEmpty ? [] : [text]
        case .array(let items):
            guard items.count <= 4 else { throw outOfRange(key, "may hold at most 4 strings") }
            var strings: [String] = []
            for item in items {
                guard case .string(let text) = item else { throw fail(key, "a string or an array of strings") }
                if !text.isEmpty { strings.append(text) }
            }
            return strings
        default: throw fail(key, "a string or an array of strings")
        }
    }
}
