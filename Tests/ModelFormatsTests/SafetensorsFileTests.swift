import Foundation
import Kernels
import Testing
import ModelFormats

@Suite("safetensors reader")
struct SafetensorsFileTests {
    private func open(_ bytes: [UInt8]) throws -> SafetensorsFile {
        let directory = try TemporaryDirectory()
        // The mapping outlives the directory object: unlinking a mapped file is fine on POSIX.
        return try SafetensorsFile(path: directory.write(bytes, to: "t.safetensors"))
    }

    private func openError(_ bytes: [UInt8]) throws -> ModelFormatError? {
        let directory = try TemporaryDirectory()
        let path = try directory.write(bytes, to: "t.safetensors")
        return formatError { try SafetensorsFile(path: path) }
    }

    /// A one-tensor header with the given fields spliced in verbatim.
    private func single(dtype: String = "F32", shape: String = "[2]", offsets: String = "[0, 8]", data: Int = 8) -> [UInt8] {
        SafetensorsBuilder.file(
            header: "{\"w\": {\"dtype\": \"\(dtype)\", \"shape\": \(shape), \"data_offsets\": \(offsets)}}",
            data: [UInt8](repeating: 0, count: data))
    }

    @Test("a valid file yields shapes, absolute offsets and values; __metadata__ is ignored")
    func parsesF32() throws {
        let bytes = SafetensorsBuilder.file(tensors: [
            ("a", [2, 3], [1, 2, 3, 4, 5, 6]), ("b", [], [7]), ("empty", [0, 4], []),
        ])
        let file = try open(bytes)
        #expect(Set(file.tensorInfos.keys) == ["a", "b", "empty"])
        let a = try file.info("a")
        #expect(a.shape == [2, 3])
        #expect(a.type == .f32)
        #expect(a.offset == file.dataOffset)
        #expect(try file.floats("a") == [1, 2, 3, 4, 5, 6])
        #expect(try file.floats("b") == [7])
        #expect(try file.info("b").elementCount == 1)
        #expect(try file.floats("empty") == [])
    }

    @Test("F16 and BF16 tensors decode exactly, even when the data section is not 4-byte aligned")
    func parsesHalfTypes() throws {
        // 1.0, -2.0 as f16 (0x3C00, 0xC000) and as bf16 (0x3F80, 0xC000); the header length is odd.
        let data: [UInt8] = LE.bytes(UInt16(0x3C00)) + LE.bytes(UInt16(0xC000)) + LE.bytes(UInt16(0x3F80)) + LE.bytes(UInt16(0xC000))
        let header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]}} "
        let file = try open(SafetensorsBuilder.file(header: header, data: data))
        #expect(file.dataOffset % 2 == 1)
        #expect(try file.floats("h") == [1, -2])
        #expect(try file.floats("b") == [1, -2])
        #expect(try file.info("h").type == .f16)
        #expect(try file.info("b").type == .bf16)
    }

    @Test("every strict prefix of a valid file throws a typed error")
    func everyPrefixThrows() throws {
        let bytes = SafetensorsBuilder.file(tensors: [("a", [2, 2], [1, 2, 3, 4]), ("b", [3], [5, 6, 7])])
        #expect(try openError(bytes) == nil)
        for length in 0..<bytes.count {
            #expect(try openError(Array(bytes.prefix(length))) != nil, "prefix of \(length) bytes was accepted")
        }
    }

    @Test("a header length beyond the file is truncated")
    func headerPastEnd() throws {
        #expect(try openError(LE.bytes(UInt64(1000)) + Array("{}".utf8))?.kind == "truncated")
        #expect(try openError(LE.bytes(UInt64.max) + Array("{}".utf8))?.kind == "truncated")
        #expect(try openError([1, 0, 0])?.kind == "truncated")
    }

    @Test("malformed JSON or a wrong schema is badJSONHeader")
    func badJSON() throws {
        for header in ["{not json", "[1, 2]", "{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}",
                       "{\"w\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}", ""] {
            let error = try openError(SafetensorsBuilder.file(header: header, data: [0, 0, 0, 0]))
            #expect(error?.kind == "badJSONHeader", "header \(header)")
        }
    }

    @Test("data_offsets past the end are tensorOutOfBounds; a size that disagrees with the shape is sizeMismatch")
    func badOffsets() throws {
        #expect(try openError(single(offsets: "[0, 80]"))?.kind == "tensorOutOfBounds")
        #expect(try openError(single(offsets: "[9223372036854775800, 9223372036854775807]"))?.kind == "tensorOutOfBounds")
        #expect(try openError(single(offsets: "[0, 4]"))?.kind == "sizeMismatch")
        #expect(try openError(single(offsets: "[8, 0]"))?.kind == "badTensorInfo")
        #expect(try openError(single(offsets: "[0, 4, 8]"))?.kind == "badTensorInfo")
        #expect(try openError(single(offsets: "[-4, 4]"))?.kind == "badTensorInfo")
    }

    @Test("negative or overflowing shapes are badTensorInfo")
    func badShapes() throws {
        #expect(try openError(single(shape: "[-2]"))?.kind == "badTensorInfo")
        #expect(try openError(single(shape: "[4294967296, 4294967296, 4]"))?.kind == "badTensorInfo")
    }

    @Test("an unsupported dtype such as I64 is unknownDType naming the tensor and dtype")
    func unknownDType() throws {
        let error = try openError(single(dtype: "I64", shape: "[1]"))
        #expect(error?.kind == "unknownDType")
        if case let .unknownDType(_, tensor, dtype) = error {
            #expect(tensor == "w")
            #expect(dtype == "I64")
        }
    }

    @Test("ModelFiles.open reads a non-GGUF file as safetensors")
    func opensAsSafetensors() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(SafetensorsBuilder.file(tensors: [("a", [1], [3])]), to: "adapter_model.safetensors")
        #expect(try ModelFiles.open(path: path).floats("a") == [3])
    }
}
