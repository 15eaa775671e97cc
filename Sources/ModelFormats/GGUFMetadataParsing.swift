/// GGUF metadata value type ids, as the specification numbers them.
enum GGUFValueType: UInt32 {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// The fewest bytes one value of this type can occupy; used to reject an array count that
    /// cannot fit in the rest of the file before anything is allocated for it.
    var minimumSize: Int {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string: return 8  // the length prefix of an empty string
        case .array: return 12  // element type + count of an empty array
        }
    }
}

extension ByteReader {
    /// Arrays of arrays are legal; a bound on nesting keeps a hostile file from exhausting the stack.
    static let maximumArrayDepth = 8

    /// Reads one metadata value of type id `typeID` belonging to `key`.
    mutating func readGGUFValue(typeID: UInt32, key: String, depth: Int = 0) throws -> GGUFValue {
        guard let type = GGUFValueType(rawValue: typeID) else {
            throw ModelFormatError.badMetadataType(file: file, key: key, typeID: typeID)
        }
        return try readGGUFValue(type: type, key: key, depth: depth)
    }

    private mutating func readGGUFValue(type: GGUFValueType, key: String, depth: Int) throws -> GGUFValue {
        // The message is spelled out at each read so it is only built if that read fails.
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, "value of metadata key '\(key)'"))
        case .int8: return .int8(try read(Int8.self, "value of metadata key '\(key)'"))
        case .uint16: return .uint16(try read(UInt16.self, "value of metadata key '\(key)'"))
        case .int16: return .int16(try read(Int16.self, "value of metadata key '\(key)'"))
        case .uint32: return .uint32(try read(UInt32.self, "value of metadata key '\(key)'"))
        case .int32: return .int32(try read(Int32.self, "value of metadata key '\(key)'"))
        case .uint64: return .uint64(try read(UInt64.self, "value of metadata key '\(key)'"))
        case .int64: return .int64(try read(Int64.self, "value of metadata key '\(key)'"))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, "value of metadata key '\(key)'")))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, "value of metadata key '\(key)'")))
        case .bool: return .bool(try read(UInt8.self, "value of metadata key '\(key)'") != 0)
        case .string: return .string(try readString("value of metadata key '\(key)'"))
        case .array: return .array(try readGGUFArray(key: key, depth: depth + 1))
        }
    }

    private mutating func readGGUFArray(key: String, depth: Int) throws -> [GGUFValue] {
        guard depth <= Self.maximumArrayDepth else {
            throw ModelFormatError.badMetadata(
                file: file, key: key, reason: "arrays nested deeper than \(Self.maximumArrayDepth) levels; the file is corrupt")
        }
        let typeID = try read(UInt32.self, "array element type of metadata key '\(key)'")
        guard let elementType = GGUFValueType(rawValue: typeID) else {
            throw ModelFormatError.badMetadataType(file: file, key: key, typeID: typeID)
        }
        let countOffset = offset
        let count = try readCount("array length of metadata key '\(key)'")
        // Check the length against the bytes left before reserving memory for it.
        let (minimumBytes, overflow) = count.multipliedReportingOverflow(by: elementType.minimumSize)
        guard !overflow, minimumBytes <= remaining else {
            throw ModelFormatError.truncated(
                file: file, reading: "array of \(count) elements for metadata key '\(key)'",
                offset: countOffset, needed: overflow ? Int.max : minimumBytes, fileSize: bytes.count)
        }
        var elements: [GGUFValue] = []
        elements.reserveCapacity(count)
        for _ in 0..<count {
            elements.append(try readGGUFValue(type: elementType, key: key, depth: depth))
        }
        return elements
    }
}
