/// Little-endian byte encoding for hand-built test files.
enum LE {
    static func bytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    static func f32(_ value: Float) -> [UInt8] { bytes(value.bitPattern) }

    /// A GGUF string: u64 length, then UTF-8 bytes.
    static func string(_ s: String) -> [UInt8] { bytes(UInt64(s.utf8.count)) + Array(s.utf8) }
}

/// A GGUF metadata value in encoded form: type id and payload bytes.
struct RawValue {
    var typeID: UInt32
    var payload: [UInt8]

    static func u8(_ v: UInt8) -> RawValue { RawValue(typeID: 0, payload: [v]) }
    static func i8(_ v: Int8) -> RawValue { RawValue(typeID: 1, payload: LE.bytes(v)) }
    static func u16(_ v: UInt16) -> RawValue { RawValue(typeID: 2, payload: LE.bytes(v)) }
    static func i16(_ v: Int16) -> RawValue { RawValue(typeID: 3, payload: LE.bytes(v)) }
    static func u32(_ v: UInt32) -> RawValue { RawValue(typeID: 4, payload: LE.bytes(v)) }
    static func i32(_ v: Int32) -> RawValue { RawValue(typeID: 5, payload: LE.bytes(v)) }
    static func f32(_ v: Float) -> RawValue { RawValue(typeID: 6, payload: LE.f32(v)) }
    static func bool(_ v: Bool) -> RawValue { RawValue(typeID: 7, payload: [v ? 1 : 0]) }
    static func string(_ v: String) -> RawValue { RawValue(typeID: 8, payload: LE.string(v)) }
    static func u64(_ v: UInt64) -> RawValue { RawValue(typeID: 10, payload: LE.bytes(v)) }
    static func i64(_ v: Int64) -> RawValue { RawValue(typeID: 11, payload: LE.bytes(v)) }
    static func f64(_ v: Double) -> RawValue { RawValue(typeID: 12, payload: LE.bytes(v.bitPattern)) }

    /// An array whose elements all have `elementType`; each element contributes its payload only.
    static func array(_ elementType: UInt32, _ elements: [RawValue]) -> RawValue {
        RawValue(typeID: 9, payload: LE.bytes(elementType) + LE.bytes(UInt64(elements.count)) + elements.flatMap(\.payload))
    }
}

/// Builds small GGUF files in memory, with hooks to corrupt individual fields.
struct GGUFBuilder {
    struct Tensor {
        var name: String
        var ne: [UInt64]
        var typeID: UInt32
        var data: [UInt8]
        /// Overrides the stored dimension count (to claim more dimensions than are written).
        var nDimsOverride: UInt32? = nil
        /// Overrides the stored offset (relative to the data section).
        var offsetOverride: UInt64? = nil
    }

    var magic: [UInt8] = Array("GGUF".utf8)
    var version: UInt32 = 3
    var metadata: [(String, RawValue)] = []
    var tensors: [Tensor] = []
    var alignment = 32

    /// The encoded file: header, metadata, tensor infos, padding, data (each tensor aligned).
    func build() -> [UInt8] {
        var out = magic + LE.bytes(version) + LE.bytes(UInt64(tensors.count)) + LE.bytes(UInt64(metadata.count))
        for (key, value) in metadata {
            out += LE.string(key) + LE.bytes(value.typeID) + value.payload
        }
        var data: [UInt8] = []
        for tensor in tensors {
            // Pad before each tensor, not after, so the file ends exactly where the last data ends.
            while data.count % alignment != 0 { data.append(0) }
            out += LE.string(tensor.name) + LE.bytes(tensor.nDimsOverride ?? UInt32(tensor.ne.count))
            for dimension in tensor.ne { out += LE.bytes(dimension) }
            out += LE.bytes(tensor.typeID) + LE.bytes(tensor.offsetOverride ?? UInt64(data.count))
            data += tensor.data
        }
        while out.count % alignment != 0 { out.append(0) }
        return out + data
    }

    /// A small valid file exercising every metadata type, nested arrays and two tensor types.
    static func sample() -> GGUFBuilder {
        var builder = GGUFBuilder()
        builder.metadata = [
            ("general.architecture", .string("llama")),
            ("test.u8", .u8(200)), ("test.i8", .i8(-5)), ("test.u16", .u16(60000)), ("test.i16", .i16(-300)),
            ("test.u32", .u32(4_000_000_000)), ("test.i32", .i32(-70000)), ("test.f32", .f32(1.5)),
            ("test.bool", .bool(true)), ("test.u64", .u64(1 << 40)), ("test.i64", .i64(-(1 << 40))),
            ("test.f64", .f64(0.25)),
            ("test.strings", .array(8, [.string("a"), .string("héllo"), .string("")])),
            ("test.nested", .array(9, [.array(5, [.i32(1), .i32(2)]), .array(5, [.i32(3)])])),
        ]
        let values: [Float] = (0..<32).map { Float($0) * 0.5 - 4 }
        // One Q8_0 block: d = 0.5 (f16 0x3800), quants -16..15.
        let q8: [UInt8] = LE.bytes(UInt16(0x3800)) + (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) }
        builder.tensors = [
            Tensor(name: "weights.f32", ne: [16, 2], typeID: 0, data: values.flatMap(LE.f32)),
            Tensor(name: "weights.q8", ne: [32], typeID: 8, data: q8),
        ]
        return builder
    }
}
