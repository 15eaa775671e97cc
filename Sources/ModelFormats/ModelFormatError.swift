/// Why a model file (GGUF, safetensors, config.json) could not be read.
///
/// Every case names the file, and the tensor or key where one is involved, and its description ends
/// with a hint, so the message alone tells an operator what to fix.
public enum ModelFormatError: Error, CustomStringConvertible, Sendable, Equatable {
    /// An operating-system call (open, fstat, mmap, read) failed with `errno`.
    case io(file: String, operation: String, errno: Int32)
    /// A file the format refers to does not exist (a shard named by an index, a config.json).
    case fileNotFound(file: String, referencedBy: String?)
    /// A read of `needed` bytes at `offset` runs past the end of the file (`fileSize` bytes).
    case truncated(file: String, reading: String, offset: Int, needed: Int, fileSize: Int)
    /// The file does not start with the magic bytes of its format.
    case badMagic(file: String, found: [UInt8])
    /// The GGUF version is not 2 or 3.
    case unsupportedVersion(file: String, version: UInt32)
    /// A GGUF metadata value has a type id outside the specification.
    case badMetadataType(file: String, key: String, typeID: UInt32)
    /// A GGUF metadata entry is malformed (duplicate key, nesting too deep, invalid alignment, ...).
    case badMetadata(file: String, key: String, reason: String)
    /// A tensor's description is malformed (too many dimensions, element count overflow, ...).
    case badTensorInfo(file: String, tensor: String, reason: String)
    /// A tensor's dtype is not one this server decodes (`dtype` is the GGUF type id or safetensors name).
    case unknownDType(file: String, tensor: String, dtype: String)
    /// A tensor's data lies (partly) outside the file.
    case tensorOutOfBounds(file: String, tensor: String, offset: Int, byteCount: Int, fileSize: Int)
    /// A GGUF tensor's data offset is not a multiple of the file's alignment.
    case misaligned(file: String, tensor: String, offset: Int, alignment: Int)
    /// A tensor's stored byte size disagrees with its shape and dtype.
    case sizeMismatch(file: String, tensor: String, expectedBytes: Int, actualBytes: Int)
    /// A tensor has a different shape from the one the caller needs.
    case shapeMismatch(file: String, tensor: String, expected: [Int], actual: [Int])
    /// A tensor the caller asked for is not in the file.
    case missingTensor(file: String, tensor: String)
    /// A safetensors JSON header (or sharded index) is not valid.
    case badJSONHeader(file: String, reason: String)
    /// A config.json is missing a field or holds an invalid value.
    case badConfig(file: String, reason: String)

    /// A one-line, human-readable account of the problem with a hint at its cause.
    public var description: String {
        switch self {
        case let .io(file, operation, errno):
            return "\(file): \(operation) failed (errno \(errno)); check that the path exists and is readable"
        case let .fileNotFound(file, referencedBy):
            let source = referencedBy.map { " (named by \($0))" } ?? ""
            return "\(file): no such file\(source); is the checkpoint complete?"
        case let .truncated(file, reading, offset, needed, fileSize):
            return "\(file): truncated while reading \(reading): needs \(needed) bytes at offset \(offset) "
                + "but the file has \(fileSize); the download or copy is probably incomplete"
        case let .badMagic(file, found):
            let hex = found.map { String($0, radix: 16) }.joined(separator: " ")
            return "\(file): bad magic bytes [\(hex)]; this is not a file of the expected format"
        case let .unsupportedVersion(file, version):
            if version.byteSwapped == 2 || version.byteSwapped == 3 {
                return "\(file): this is a big-endian GGUF file; only little-endian files are supported"
            }
            return "\(file): GGUF version \(version) is not supported (only 2 and 3); reconvert with a current llama.cpp"
        case let .badMetadataType(file, key, typeID):
            return "\(file): metadata key '\(key)' has unknown value type \(typeID); the file is corrupt or from a newer GGUF"
        case let .badMetadata(file, key, reason):
            return "\(file): metadata key '\(key)': \(reason)"
        case let .badTensorInfo(file, tensor, reason):
            return "\(file): tensor '\(tensor)': \(reason); the file is corrupt"
        case let .unknownDType(file, tensor, dtype):
            return "\(file): tensor '\(tensor)' has unsupported dtype \(dtype); "
                + "supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K — convert the model to one of them"
        case let .tensorOutOfBounds(file, tensor, offset, byteCount, fileSize):
            return "\(file): tensor '\(tensor)' spans bytes \(offset)..<\(offset &+ byteCount) "
                + "but the file has \(fileSize); the file is truncated or corrupt"
        case let .misaligned(file, tensor, offset, alignment):
            return "\(file): tensor '\(tensor)' data offset \(offset) is not a multiple of the alignment \(alignment); "
                + "the file is corrupt"
        case let .sizeMismatch(file, tensor, expectedBytes, actualBytes):
            return "\(file): tensor '\(tensor)' occupies \(actualBytes) bytes but its shape and dtype need "
                + "\(expectedBytes); the header is corrupt"
        case let .shapeMismatch(file, tensor, expected, actual):
            return "\(file): tensor '\(tensor)' has shape \(actual), expected \(expected); maybe the wrong base model?"
        case let .missingTensor(file, tensor):
            return "\(file): no tensor named '\(tensor)'; maybe the wrong model or architecture?"
        case let .badJSONHeader(file, reason):
            return "\(file): invalid JSON header: \(reason)"
        case let .badConfig(file, reason):
            return "\(file): invalid model config: \(reason)"
        }
    }
}
