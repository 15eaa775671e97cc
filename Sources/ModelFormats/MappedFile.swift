#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory with mmap(2); unmapped when the object is freed.
///
/// Model weights are read through the mapping rather than copied, so the kernel pages them in on
/// demand and shares them between processes. Views handed out by `bytes(at:count:)` stay valid only
/// while this object is alive.
public final class MappedFile: @unchecked Sendable {
    // @unchecked: the mapping is immutable after init and read-only, so sharing it is safe.

    /// The path the file was opened with (used in error messages).
    public let path: String
    /// The file's size in bytes.
    public let size: Int
    /// The whole mapped file (empty for an empty file).
    public let buffer: UnsafeRawBufferPointer

    /// Maps the file at `path`; throws `ModelFormatError.io` when it cannot be opened, stat'ed or mapped.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw ModelFormatError.fileNotFound(file: path, referencedBy: nil) }
            throw ModelFormatError.io(file: path, operation: "open", errno: errno)
        }
        // The mapping keeps its own reference to the file, so the descriptor can go at once.
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw ModelFormatError.io(file: path, operation: "fstat", errno: errno) }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw ModelFormatError.io(file: path, operation: "open (not a regular file)", errno: EISDIR)
        }
        size = Int(status.st_size)
        guard size > 0 else {
            // mmap rejects a zero length; an empty file is simply an empty buffer.
            buffer = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw ModelFormatError.io(file: path, operation: "mmap", errno: errno)
        }
        buffer = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let start = buffer.baseAddress, size > 0 {
            munmap(UnsafeMutableRawPointer(mutating: start), size)
        }
    }

    /// A view of `count` bytes starting at `offset`; throws `ModelFormatError.truncated` (naming
    /// `reading`) when any part lies outside the file. Overflow-safe for any `offset` and `count`.
    public func bytes(at offset: Int, count: Int, reading: String = "data") throws -> UnsafeRawBufferPointer {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw ModelFormatError.truncated(file: path, reading: reading, offset: offset, needed: count, fileSize: size)
        }
        guard count > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + count)])
    }
}
