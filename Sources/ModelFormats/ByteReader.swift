/// A bounds-checked little-endian cursor over raw bytes, for parsing binary headers.
///
/// Every read checks the remaining length first and throws `ModelFormatError.truncated` naming what
/// was being read; `what` is an autoclosure so the hot path (100k tokenizer strings) builds no
/// message strings unless a read fails.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let file: String
    private(set) var offset = 0

    init(bytes: UnsafeRawBufferPointer, file: String) {
        self.bytes = bytes
        self.file = file
    }

    /// Bytes not yet read.
    var remaining: Int { bytes.count - offset }

    /// Consumes `count` bytes and returns a view of them.
    mutating func take(_ count: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        guard count >= 0, count <= remaining else {
            throw ModelFormatError.truncated(
                file: file, reading: what(), offset: offset, needed: count, fileSize: bytes.count)
        }
        let view = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        offset += count
        return view
    }

    /// Consumes one little-endian integer.
    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else {
            throw ModelFormatError.truncated(
                file: file, reading: what(), offset: offset, needed: size, fileSize: bytes.count)
        }
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: value)
    }

    /// Consumes a u64 that must fit in Int (a count or an offset); larger values are reported as a
    /// read past the end, since no file can hold that many bytes.
    mutating func readCount(_ what: @autoclosure () -> String) throws -> Int {
        let start = offset
        let value = try read(UInt64.self, what())
        guard let count = Int(exactly: value) else {
            throw ModelFormatError.truncated(
                file: file, reading: what(), offset: start, needed: Int.max, fileSize: bytes.count)
        }
        return count
    }

    /// Consumes a GGUF string: u64 byte length, then UTF-8 bytes (invalid sequences repaired).
    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let length = try readCount(what())
        let raw = try take(length, what())
        return String(decoding: raw, as: UTF8.self)
    }
}
