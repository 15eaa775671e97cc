/// One GGUF metadata value, as typed in the file.
public enum GGUFValue: Sendable, Equatable {
    /// GGUF type 0.
    case uint8(UInt8)
    /// GGUF type 1.
    case int8(Int8)
    /// GGUF type 2.
    case uint16(UInt16)
    /// GGUF type 3.
    case int16(Int16)
    /// GGUF type 4.
    case uint32(UInt32)
    /// GGUF type 5.
    case int32(Int32)
    /// GGUF type 10.
    case uint64(UInt64)
    /// GGUF type 11.
    case int64(Int64)
    /// GGUF type 6.
    case float32(Float)
    /// GGUF type 12.
    case float64(Double)
    /// GGUF type 7 (one byte, nonzero is true).
    case bool(Bool)
    /// GGUF type 8 (UTF-8; invalid sequences are repaired with U+FFFD).
    case string(String)
    /// GGUF type 9: elements all of one type, possibly arrays themselves.
    case array([GGUFValue])
}

extension GGUFValue {
    /// The value as an Int when it is an integer of any width that fits, else nil.
    public var int: Int? {
        switch self {
        case let .uint8(v): return Int(v)
        case let .int8(v): return Int(v)
        case let .uint16(v): return Int(v)
        case let .int16(v): return Int(v)
        case let .uint32(v): return Int(v)
        case let .int32(v): return Int(v)
        case let .uint64(v): return Int(exactly: v)
        case let .int64(v): return Int(exactly: v)
        default: return nil
        }
    }

    /// The value as a Float when it is a float32 or float64 (rounded), else nil.
    public var float: Float? {
        switch self {
        case let .float32(v): return v
        case let .float64(v): return Float(v)
        default: return nil
        }
    }

    /// The value as a Double when it is a float32 or float64, else nil.
    public var double: Double? {
        switch self {
        case let .float32(v): return Double(v)
        case let .float64(v): return v
        default: return nil
        }
    }

    /// The value when it is a bool, else nil.
    public var bool: Bool? {
        if case let .bool(v) = self { return v }
        return nil
    }

    /// The value when it is a string, else nil.
    public var string: String? {
        if case let .string(v) = self { return v }
        return nil
    }

    /// The elements when the value is an array, else nil.
    public var array: [GGUFValue]? {
        if case let .array(v) = self { return v }
        return nil
    }

    /// The elements when the value is an array of strings, else nil.
    public var strings: [String]? {
        guard case let .array(elements) = self else { return nil }
        var result: [String] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            guard case let .string(s) = element else { return nil }
            result.append(s)
        }
        return result
    }

    /// The elements when the value is an array of integers that all fit in Int, else nil.
    public var ints: [Int]? {
        guard case let .array(elements) = self else { return nil }
        var result: [Int] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            guard let v = element.int else { return nil }
            result.append(v)
        }
        return result
    }

    /// The elements when the value is an array of floats, else nil.
    public var floats: [Float]? {
        guard case let .array(elements) = self else { return nil }
        var result: [Float] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            guard let v = element.float else { return nil }
            result.append(v)
        }
        return result
    }
}
