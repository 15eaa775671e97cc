import Foundation
import TestSupport
import ModelFormats

/// Locations in the repository (shared with the other test targets through TestSupport).
enum Repository {
    /// A path under Tests/Fixtures.
    static func fixture(_ relative: String) -> String { Fixtures.path(relative) }

    /// The default base model, which `make test` downloads but a bare checkout may lack.
    static let smolLM2Path = Fixtures.smolLM2Path

    /// Whether the SmolLM2 GGUF is present.
    static var hasSmolLM2: Bool { Fixtures.hasSmolLM2 }
}

/// A scratch directory removed when the value goes away.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("formats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes `bytes` to `name` inside the directory and returns the file's path.
    @discardableResult
    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let path = url.appendingPathComponent(name).path
        // stdio rather than Data.write, which is ~100x slower here and the prefix tests write hundreds of files.
        guard let handle = fopen(path, "wb") else { throw CocoaError(.fileWriteUnknown) }
        defer { fclose(handle) }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, handle) }
        guard written == bytes.count else { throw CocoaError(.fileWriteUnknown) }
        return path
    }

    /// Writes `text` (UTF-8) to `name` inside the directory and returns the file's path.
    @discardableResult
    func write(_ text: String, to name: String) throws -> String {
        try write(Array(text.utf8), to: name)
    }
}

/// The `ModelFormatError` that `body` throws, or nil when it succeeds or throws something else.
func formatError<T>(_ body: () throws -> T) -> ModelFormatError? {
    do {
        _ = try body()
        return nil
    } catch let error as ModelFormatError {
        return error
    } catch {
        return nil
    }
}

extension ModelFormatError {
    /// The case name ("truncated", "badMagic", ...), so tests can match a kind without its payload.
    var kind: String { Mirror(reflecting: self).children.first?.label ?? "\(self)" }
}
