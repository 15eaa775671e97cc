import Foundation
import Kernels
import Testing
import ModelFormats

@Suite("GGUF reader")
struct GGUFFileTests {
    @Test("a valid file yields every metadata type, nested arrays and tensors with reversed shapes")
    func parsesSample() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(GGUFBuilder.sample().build(), to: "sample.gguf")
        let gguf = try GGUFFile(path: path)

        #expect(gguf.version == 3)
        #expect(gguf.alignment == 32)
        #expect(gguf.metadata.count == 14)
        #expect(gguf.metadata["general.architecture"] == .string("llama"))
        #expect(gguf.metadata["test.u8"] == .uint8(200))
        #expect(gguf.metadata["test.i8"] == .int8(-5))
        #expect(gguf.metadata["test.u16"] == .uint16(60000))
        #expect(gguf.metadata["test.i16"] == .int16(-300))
        #expect(gguf.metadata["test.u32"] == .uint32(4_000_000_000))
        #expect(gguf.metadata["test.i32"] == .int32(-70000))
        #expect(gguf.metadata["test.f32"] == .float32(1.5))
        #expect(gguf.metadata["test.bool"] == .bool(true))
        #expect(gguf.metadata["test.u64"] == .uint64(1 << 40))
        #expect(gguf.metadata["test.i64"] == .int64(-(1 << 40)))
        #expect(gguf.metadata["test.f64"] == .float64(0.25))
        #expect(gguf.metadata["test.strings"]?.strings == ["a", "héllo", ""])
        #expect(gguf.metadata["test.nested"] == .array([.array([.int32(1), .int32(2)]), .array([.int32(3)])]))

        #expect(gguf.tensorOrder == ["weights.f32", "weights.q8"])
        let f32 = try gguf.info("weights.f32")
        #expect(f32.shape == [2, 16])
        #expect(f32.type == .f32)
        #expect(f32.byteCount == 128)
        #expect(f32.offset == gguf.dataOffset)
        #expect(gguf.dataOffset % 32 == 0)
        #expect(try gguf.floats("weights.f32") == (0..<32).map { Float($0) * 0.5 - 4 })

        let q8 = try gguf.info("weights.q8")
        #expect(q8.shape == [32])
        #expect(q8.offset == gguf.dataOffset + 128)
        #expect(try gguf.floats("weights.q8") == (0..<32).map { Float($0 - 16) * 0.5 })
        #expect(try gguf.rawBytes("weights.q8").count == 34)
    }

    @Test("version 2 files are read too")
    func acceptsVersion2() throws {
        var builder = GGUFBuilder.sample()
        builder.version = 2
        let directory = try TemporaryDirectory()
        let gguf = try GGUFFile(path: directory.write(builder.build(), to: "v2.gguf"))
        #expect(gguf.version == 2)
    }

    @Test("general.alignment moves the data section and tensor offsets")
    func honoursAlignment() throws {
        var builder = GGUFBuilder.sample()
        builder.alignment = 64
        builder.metadata.append(("general.alignment", .u32(64)))
        let directory = try TemporaryDirectory()
        let gguf = try GGUFFile(path: directory.write(builder.build(), to: "a64.gguf"))
        #expect(gguf.alignment == 64)
        #expect(gguf.dataOffset % 64 == 0)
        #expect(try gguf.info("weights.q8").offset == gguf.dataOffset + 128)
        #expect(try gguf.floats("weights.q8")[31] == 7.5)
    }

    @Test("asking for an absent tensor throws missingTensor naming the file and tensor")
    func missingTensor() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(GGUFBuilder.sample().build(), to: "sample.gguf")
        let gguf = try GGUFFile(path: path)
        let error = formatError { try gguf.floats("nope.weight") }
        #expect(error == .missingTensor(file: path, tensor: "nope.weight"))
        #expect(error?.description.contains("nope.weight") == true)
    }

    @Test("a shape check reports shapeMismatch with both shapes")
    func shapeCheck() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(GGUFBuilder.sample().build(), to: "sample.gguf")
        let gguf = try GGUFFile(path: path)
        #expect(try gguf.floats("weights.f32", shape: [2, 16]).count == 32)
        #expect(formatError { try gguf.floats("weights.f32", shape: [16, 2]) }
            == .shapeMismatch(file: path, tensor: "weights.f32", expected: [16, 2], actual: [2, 16]))
    }

    @Test("ModelFiles.open recognises a GGUF file by its magic")
    func opensByMagic() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(GGUFBuilder.sample().build(), to: "model.bin")
        #expect(try ModelFiles.open(path: path) is GGUFFile)
    }
}

@Suite("GGUF values")
struct GGUFValueTests {
    @Test("accessors convert integers of every width and reject other types")
    func accessors() {
        #expect(GGUFValue.uint8(7).int == 7)
        #expect(GGUFValue.int64(-3).int == -3)
        #expect(GGUFValue.uint64(.max).int == nil)
        #expect(GGUFValue.string("x").int == nil)
        #expect(GGUFValue.float64(0.5).float == 0.5)
        #expect(GGUFValue.int32(1).float == nil)
        #expect(GGUFValue.bool(true).bool == true)
        #expect(GGUFValue.array([.int32(1), .uint16(2)]).ints == [1, 2])
        #expect(GGUFValue.array([.int32(1), .string("2")]).ints == nil)
        #expect(GGUFValue.array([.float32(1), .float32(2)]).floats == [1, 2])
        #expect(GGUFValue.array([.string("a")]).strings == ["a"])
        #expect(GGUFValue.array([]).strings == [])
        #expect(GGUFValue.string("a").array == nil)
    }
}
