import Foundation
import Testing
import ModelFormats

@Suite("memory-mapped files")
struct MappedFileTests {
    @Test("bytes(at:count:) returns views inside the file and throws truncated for anything outside, without overflow")
    func boundsChecks() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(Array(0..<100), to: "bytes.bin")
        let file = try MappedFile(path: path)
        #expect(file.size == 100)
        #expect(Array(try file.bytes(at: 10, count: 3)) == [10, 11, 12])
        #expect(try file.bytes(at: 100, count: 0).isEmpty)
        #expect(Array(try file.bytes(at: 0, count: 100)).last == 99)
        let outside: [(Int, Int)] = [(99, 2), (101, 0), (-1, 1), (0, -1), (Int.max, Int.max), (1, Int.max), (Int.min, 5)]
        for (offset, count) in outside {
            let error = formatError { try file.bytes(at: offset, count: count, reading: "probe") }
            #expect(error == .truncated(file: path, reading: "probe", offset: offset, needed: count, fileSize: 100))
        }
    }

    @Test("an empty file maps to an empty buffer")
    func emptyFile() throws {
        let directory = try TemporaryDirectory()
        let file = try MappedFile(path: directory.write([UInt8](), to: "empty.bin"))
        #expect(file.size == 0)
        #expect(try file.bytes(at: 0, count: 0).isEmpty)
        #expect(formatError { try file.bytes(at: 0, count: 1) }?.kind == "truncated")
    }

    @Test("error descriptions start with the file and name the tensor")
    func descriptions() {
        let errors: [ModelFormatError] = [
            .io(file: "f", operation: "mmap", errno: 12),
            .truncated(file: "f", reading: "magic", offset: 0, needed: 4, fileSize: 2),
            .badMagic(file: "f", found: [1, 2]),
            .missingTensor(file: "f", tensor: "blk.0.attn_q.weight"),
            .unknownDType(file: "f", tensor: "t", dtype: "I64"),
            .shapeMismatch(file: "f", tensor: "t", expected: [2], actual: [3]),
        ]
        for error in errors {
            #expect(error.description.hasPrefix("f: "))
            #expect(error.description.count > 30)
        }
        #expect(ModelFormatError.missingTensor(file: "f", tensor: "blk.0.attn_q.weight").description.contains("blk.0.attn_q.weight"))
    }
}
