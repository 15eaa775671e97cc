import Foundation
import Kernels

/// One safetensors file: u64 little-endian header length N, N bytes of JSON header, then the data.
///
/// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}, offsets
/// relative to the end of the header; "__metadata__" holds free-form strings and is ignored.
/// Supported dtypes are F32, F16 and BF16; anything else is rejected when the file is opened.
public final class SafetensorsFile: TensorSource {
    /// The path the file was opened with.
    public var path: String { file.path }
    /// Every tensor, by name, with absolute offsets.
    public let tensorInfos: [String: TensorInfo]
    /// Absolute byte offset of the data section (8 + header length).
    public let dataOffset: Int
    /// The mapping the tensor views point into.
    public let file: MappedFile

    /// Maps and parses the safetensors file at `path`.
    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    /// Parses an already mapped safetensors file; throws a `ModelFormatError` for anything malformed.
    public init(file: MappedFile) throws {
        self.file = file
        var reader = ByteReader(bytes: file.buffer, file: file.path)
        let headerLength = try reader.readCount("header length")
        let header = try reader.take(headerLength, "JSON header of \(headerLength) bytes")
        dataOffset = reader.offset

        let entries = try SafetensorsHeader.decode(header, file: file.path)
        var infos: [String: TensorInfo] = [:]
        infos.reserveCapacity(entries.count)
        for (name, entry) in entries {
            infos[name] = try Self.validate(entry, name: name, dataOffset: dataOffset, file: file)
        }
        tensorInfos = infos
    }

    /// The raw bytes of tensor `name` (already validated against the file size at init).
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let info = try info(name)
        return try file.bytes(at: info.offset, count: info.byteCount, reading: "tensor '\(name)'")
    }

    /// Maps a safetensors dtype name to its ggml encoding, or nil when unsupported.
    public static func type(ofDType dtype: String) -> GGMLType? {
        switch dtype {
        case "F32": return .f32
        case "F16": return .f16
        case "BF16": return .bf16
        default: return nil
        }
    }

    private static func validate(
        _ entry: SafetensorsHeader.Entry, name: String, dataOffset: Int, file: MappedFile
    ) throws -> TensorInfo {
        guard let type = type(ofDType: entry.dtype) else {
            throw ModelFormatError.unknownDType(file: file.path, tensor: name, dtype: entry.dtype)
        }
        guard let elements = checkedElementCount(entry.shape), let expectedBytes = type.byteCount(elements: elements) else {
            throw ModelFormatError.badTensorInfo(
                file: file.path, tensor: name, reason: "shape \(entry.shape) is negative or its element count overflows")
        }
        guard entry.dataOffsets.count == 2, entry.dataOffsets[0] >= 0, entry.dataOffsets[0] <= entry.dataOffsets[1] else {
            throw ModelFormatError.badTensorInfo(
                file: file.path, tensor: name, reason: "data_offsets \(entry.dataOffsets) is not [begin, end] with begin ≤ end")
        }
        let begin = entry.dataOffsets[0], end = entry.dataOffsets[1]
        let (start, overflow) = dataOffset.addingReportingOverflow(begin)
        let byteCount = end - begin
        guard !overflow, start <= file.size, byteCount <= file.size - start else {
            throw ModelFormatError.tensorOutOfBounds(
                file: file.path, tensor: name, offset: overflow ? Int.max : start, byteCount: byteCount, fileSize: file.size)
        }
        guard byteCount == expectedBytes else {
            throw ModelFormatError.sizeMismatch(file: file.path, tensor: name, expectedBytes: expectedBytes, actualBytes: byteCount)
        }
        return TensorInfo(name: name, shape: entry.shape, type: type, offset: start, byteCount: byteCount)
    }
}

/// The JSON header of a safetensors file, decoded with typed errors.
enum SafetensorsHeader {
    /// One tensor's header entry.
    struct Entry: Decodable {
        let dtype: String
        let shape: [Int]
        let dataOffsets: [Int]

        enum CodingKeys: String, CodingKey {
            case dtype, shape
            case dataOffsets = "data_offsets"
        }
    }

    /// The whole header: tensor entries under arbitrary keys, minus "__metadata__".
    private struct Document: Decodable {
        var entries: [String: Entry] = [:]

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: AnyKey.self)
            for key in container.allKeys where key.stringValue != "__metadata__" {
                entries[key.stringValue] = try container.decode(Entry.self, forKey: key)
            }
        }
    }

    /// Decodes the header bytes; any JSON or schema problem becomes `badJSONHeader`.
    static func decode(_ header: UnsafeRawBufferPointer, file: String) throws -> [String: Entry] {
        do {
            return try JSONDecoder().decode(Document.self, from: Data(header)).entries
        } catch let error as DecodingError {
            throw ModelFormatError.badJSONHeader(file: file, reason: describe(error))
        } catch {
            throw ModelFormatError.badJSONHeader(file: file, reason: "\(error)")
        }
    }
}

/// A coding key for JSON objects whose keys are data (tensor names).
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// A short account of a decoding error that names the JSON path where it happened.
func describe(_ error: DecodingError) -> String {
    func path(_ codingPath: [CodingKey]) -> String {
        codingPath.isEmpty ? "top level" : codingPath.map(\.stringValue).joined(separator: ".")
    }
    switch error {
    case let .typeMismatch(type, context):
        return "\(path(context.codingPath)): expected \(type); \(context.debugDescription)"
    case let .valueNotFound(type, context):
        return "\(path(context.codingPath)): missing \(type) value"
    case let .keyNotFound(key, context):
        return "\(path(context.codingPath + [key])): missing key '\(key.stringValue)'"
    case let .dataCorrupted(context):
        return "\(path(context.codingPath)): \(context.debugDescription)"
    @unknown default:
        return "\(error)"
    }
}
