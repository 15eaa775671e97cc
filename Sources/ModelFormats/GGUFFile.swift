import Kernels

/// A GGUF file (version 2 or 3): typed metadata plus tensors, parsed and fully validated at init.
///
/// Layout: "GGUF", u32 version, u64 tensor count, u64 metadata count, the metadata entries
/// (string key, u32 type, value), the tensor infos (string name, u32 n_dims, u64 ne[n_dims],
/// u32 ggml type, u64 offset relative to the data section), padding to `alignment`, then the data.
public final class GGUFFile: TensorSource {
    /// ggml tensors have at most four dimensions.
    public static let maximumDimensions = 4

    /// The path the file was opened with.
    public var path: String { file.path }
    /// The GGUF version (2 or 3).
    public let version: UInt32
    /// Every metadata entry, by key.
    public let metadata: [String: GGUFValue]
    /// Alignment of tensor data (`general.alignment`, 32 when absent).
    public let alignment: Int
    /// Absolute byte offset of the data section; tensor offsets in the file are relative to it.
    public let dataOffset: Int
    /// Every tensor, by name, with absolute offsets and HF-order shapes.
    public let tensorInfos: [String: TensorInfo]
    /// Tensor names in the order the file lists them.
    public let tensorOrder: [String]
    /// The mapping the tensor views point into.
    public let file: MappedFile

    /// Maps and parses the GGUF file at `path`.
    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    /// Parses an already mapped GGUF file; throws a `ModelFormatError` for anything malformed.
    public init(file: MappedFile) throws {
        self.file = file
        var reader = ByteReader(bytes: file.buffer, file: file.path)

        let magic = try reader.take(4, "magic")
        guard Array(magic) == Array("GGUF".utf8) else {
            throw ModelFormatError.badMagic(file: file.path, found: Array(magic))
        }
        version = try reader.read(UInt32.self, "version")
        guard version == 2 || version == 3 else {
            throw ModelFormatError.unsupportedVersion(file: file.path, version: version)
        }
        let tensorCount = try reader.readCount("tensor count")
        let metadataCount = try reader.readCount("metadata count")

        metadata = try Self.readMetadata(&reader, count: metadataCount)
        alignment = try Self.alignment(in: metadata, file: file.path)
        let infos = try Self.readTensorInfos(&reader, count: tensorCount)

        // The data section starts at the next multiple of the alignment.
        let (padded, overflow) = reader.offset.addingReportingOverflow(alignment - 1)
        guard !overflow else {
            throw ModelFormatError.truncated(
                file: file.path, reading: "data section", offset: reader.offset, needed: alignment, fileSize: file.size)
        }
        dataOffset = padded - padded % alignment

        var byName: [String: TensorInfo] = [:]
        byName.reserveCapacity(infos.count)
        for raw in infos {
            byName[raw.name] = try Self.locate(raw, dataOffset: dataOffset, alignment: alignment, file: file)
        }
        tensorInfos = byName
        tensorOrder = infos.map(\.name)
    }

    /// The raw bytes of tensor `name` (already validated against the file size at init).
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let info = try info(name)
        return try file.bytes(at: info.offset, count: info.byteCount, reading: "tensor '\(name)'")
    }

    // MARK: Parsing steps

    private static func readMetadata(_ reader: inout ByteReader, count: Int) throws -> [String: GGUFValue] {
        var metadata: [String: GGUFValue] = [:]
        // A metadata entry takes at least 13 bytes; never reserve more than the file could hold.
        metadata.reserveCapacity(min(count, reader.remaining / 13))
        for index in 0..<count {
            let key = try reader.readString("key of metadata entry \(index)")
            let typeID = try reader.read(UInt32.self, "value type of metadata key '\(key)'")
            let value = try reader.readGGUFValue(typeID: typeID, key: key)
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw ModelFormatError.badMetadata(file: reader.file, key: key, reason: "the key appears twice; the file is corrupt")
            }
        }
        return metadata
    }

    private static func alignment(in metadata: [String: GGUFValue], file: String) throws -> Int {
        guard let value = metadata["general.alignment"] else { return 32 }
        guard let alignment = value.int, alignment > 0, alignment & (alignment - 1) == 0, alignment <= 1 << 30 else {
            throw ModelFormatError.badMetadata(
                file: file, key: "general.alignment", reason: "\(value) is not a positive power of two; the file is corrupt")
        }
        return alignment
    }

    /// A tensor info as stored: shape still in ggml order, offset still relative to the data section.
    private struct RawTensorInfo {
        let name: String
        let ne: [Int]
        let type: GGMLType
        let relativeOffset: Int
        let byteCount: Int
    }

    private static func readTensorInfos(_ reader: inout ByteReader, count: Int) throws -> [RawTensorInfo] {
        var infos: [RawTensorInfo] = []
        var seen = Set<String>()
        // A tensor info takes at least 24 bytes; never reserve more than the file could hold.
        infos.reserveCapacity(min(count, reader.remaining / 24))
        for index in 0..<count {
            let name = try reader.readString("name of tensor \(index)")
            let info = try readTensorInfo(&reader, name: name)
            guard seen.insert(name).inserted else {
                throw ModelFormatError.badTensorInfo(file: reader.file, tensor: name, reason: "the name appears twice")
            }
            infos.append(info)
        }
        return infos
    }

    private static func readTensorInfo(_ reader: inout ByteReader, name: String) throws -> RawTensorInfo {
        let file = reader.file
        let dimensionCount = try reader.read(UInt32.self, "dimension count of tensor '\(name)'")
        guard dimensionCount <= maximumDimensions else {
            throw ModelFormatError.badTensorInfo(
                file: file, tensor: name, reason: "\(dimensionCount) dimensions (ggml allows at most \(maximumDimensions))")
        }
        var ne: [Int] = []
        for axis in 0..<Int(dimensionCount) {
            let dimension = try reader.read(UInt64.self, "dimension \(axis) of tensor '\(name)'")
            guard let value = Int(exactly: dimension) else {
                throw ModelFormatError.badTensorInfo(file: file, tensor: name, reason: "dimension \(axis) is \(dimension)")
            }
            ne.append(value)
        }
        let typeID = try reader.read(UInt32.self, "type of tensor '\(name)'")
        let relativeOffset = try reader.read(UInt64.self, "data offset of tensor '\(name)'")
        guard let type = GGMLType(rawValue: typeID) else {
            throw ModelFormatError.unknownDType(file: file, tensor: name, dtype: ggmlTypeDescription(typeID))
        }
        guard let elements = checkedElementCount(ne), let byteCount = type.byteCount(elements: elements) else {
            throw ModelFormatError.badTensorInfo(file: file, tensor: name, reason: "element count of shape \(ne) overflows")
        }
        guard (ne.first ?? 1) % type.blockSize == 0 else {
            throw ModelFormatError.badTensorInfo(
                file: file, tensor: name,
                reason: "row length \(ne[0]) is not a multiple of the \(type.name) block size \(type.blockSize)")
        }
        guard let offset = Int(exactly: relativeOffset) else {
            throw ModelFormatError.tensorOutOfBounds(
                file: file, tensor: name, offset: Int.max, byteCount: byteCount, fileSize: reader.bytes.count)
        }
        return RawTensorInfo(name: name, ne: ne, type: type, relativeOffset: offset, byteCount: byteCount)
    }

    /// Turns a stored tensor info into a public one: checks alignment and that the data lies in the file.
    private static func locate(_ raw: RawTensorInfo, dataOffset: Int, alignment: Int, file: MappedFile) throws -> TensorInfo {
        guard raw.relativeOffset % alignment == 0 else {
            throw ModelFormatError.misaligned(file: file.path, tensor: raw.name, offset: raw.relativeOffset, alignment: alignment)
        }
        let (start, overflow) = dataOffset.addingReportingOverflow(raw.relativeOffset)
        guard !overflow, start <= file.size, raw.byteCount <= file.size - start else {
            throw ModelFormatError.tensorOutOfBounds(
                file: file.path, tensor: raw.name, offset: overflow ? Int.max : start, byteCount: raw.byteCount,
                fileSize: file.size)
        }
        return TensorInfo(name: raw.name, shape: raw.ne.reversed(), type: raw.type, offset: start, byteCount: raw.byteCount)
    }
}

/// Names a ggml type id for an error message ("6 (q5_0)"), so an unsupported but real type is
/// recognisable.
func ggmlTypeDescription(_ id: UInt32) -> String {
    let names: [UInt32: String] = [
        6: "q5_0", 7: "q5_1", 9: "q8_1", 10: "q2_K", 11: "q3_K", 13: "q5_K", 15: "q8_K",
        16: "iq2_xxs", 17: "iq2_xs", 18: "iq3_xxs", 19: "iq1_s", 20: "iq4_nl", 21: "iq3_s", 22: "iq2_s",
        23: "iq4_xs", 24: "i8", 25: "i16", 26: "i32", 27: "i64", 28: "f64", 29: "iq1_m", 34: "tq1_0", 35: "tq2_0",
    ]
    return names[id].map { "\(id) (\($0))" } ?? "\(id) (unknown ggml type id)"
}
