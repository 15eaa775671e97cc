import Foundation
import Testing
import ModelFormats

/// Corrupt GGUF files must produce typed errors, never a crash or an out-of-bounds read.
@Suite("GGUF corruption")
struct GGUFCorruptionTests {
    /// Writes `builder`'s file and returns the error opening it throws (nil if it opens).
    private func openError(_ builder: GGUFBuilder) throws -> ModelFormatError? {
        try openError(builder.build())
    }

    private func openError(_ bytes: [UInt8]) throws -> ModelFormatError? {
        let directory = try TemporaryDirectory()
        let path = try directory.write(bytes, to: "corrupt.gguf")
        return formatError { try GGUFFile(path: path) }
    }

    /// The sample with its first tensor replaced by `change(tensor)`.
    private func sampleWithTensor(_ change: (inout GGUFBuilder.Tensor) -> Void) -> GGUFBuilder {
        var builder = GGUFBuilder.sample()
        change(&builder.tensors[0])
        return builder
    }

    /// The sample with one extra metadata entry (raw key and value bytes) appended.
    private func sampleWithMetadata(rawEntry: [UInt8]) -> [UInt8] {
        var builder = GGUFBuilder.sample()
        builder.tensors = []
        var bytes = builder.build()
        // Bump the metadata count (bytes 16..<24) and append the entry after the existing ones.
        let count = UInt64(builder.metadata.count + 1)
        bytes.replaceSubrange(16..<24, with: LE.bytes(count))
        return Array(bytes.prefix(unpaddedLength(builder))) + rawEntry
    }

    private func unpaddedLength(_ builder: GGUFBuilder) -> Int {
        24 + builder.metadata.reduce(0) { $0 + LE.string($1.0).count + 4 + $1.1.payload.count }
    }

    @Test("every strict prefix of a valid file throws a typed error")
    func everyPrefixThrows() throws {
        let bytes = GGUFBuilder.sample().build()
        #expect(try openError(bytes) == nil)
        let directory = try TemporaryDirectory()
        var kinds = Set<String>()
        for length in 0..<bytes.count {
            let path = try directory.write(Array(bytes.prefix(length)), to: "prefix.gguf")
            let error = formatError { try GGUFFile(path: path) }
            #expect(error != nil, "prefix of \(length) bytes was accepted")
            if let error { kinds.insert(error.kind) }
        }
        #expect(kinds.isSubset(of: ["truncated", "tensorOutOfBounds"]), "unexpected kinds \(kinds)")
    }

    @Test("a wrong magic is badMagic")
    func badMagic() throws {
        var builder = GGUFBuilder.sample()
        builder.magic = Array("GGML".utf8)
        let error = try openError(builder)
        #expect(error?.kind == "badMagic")
        if case let .badMagic(_, found) = error { #expect(found == Array("GGML".utf8)) }
    }

    @Test("version 1 and unknown versions are unsupportedVersion")
    func unsupportedVersions() throws {
        for version: UInt32 in [0, 1, 4, 0x0300_0000] {
            var builder = GGUFBuilder.sample()
            builder.version = version
            let error = try openError(builder)
            #expect(error?.kind == "unsupportedVersion")
            if case let .unsupportedVersion(_, found) = error { #expect(found == version) }
            #expect(error?.description.contains("big-endian") == (version == 0x0300_0000))
        }
    }

    @Test("a tensor offset past the end of the file is tensorOutOfBounds naming the tensor")
    func offsetPastEnd() throws {
        for offset: UInt64 in [1 << 20, UInt64(Int.max) - 31, UInt64.max - 31] {
            let error = try openError(sampleWithTensor { $0.offsetOverride = offset })
            #expect(error?.kind == "tensorOutOfBounds", "offset \(offset)")
            if case let .tensorOutOfBounds(_, tensor, _, _, _) = error { #expect(tensor == "weights.f32") }
        }
    }

    @Test("a tensor offset that is not a multiple of the alignment is misaligned")
    func misalignedOffset() throws {
        let error = try openError(sampleWithTensor { $0.offsetOverride = 4 })
        #expect(error?.kind == "misaligned")
    }

    @Test("an unknown or unsupported ggml type id is unknownDType with the id")
    func unknownType() throws {
        let q5 = try openError(sampleWithTensor { $0.typeID = 6 })
        #expect(q5?.kind == "unknownDType")
        if case let .unknownDType(_, tensor, dtype) = q5 {
            #expect(tensor == "weights.f32")
            #expect(dtype == "6 (q5_0)")
        }
        let bogus = try openError(sampleWithTensor { $0.typeID = 999 })
        if case let .unknownDType(_, _, dtype) = bogus { #expect(dtype.hasPrefix("999")) } else { Issue.record("got \(String(describing: bogus))") }
    }

    @Test("more than four dimensions, or a huge n_dims, is badTensorInfo")
    func tooManyDimensions() throws {
        #expect(try openError(sampleWithTensor { $0.ne = [1, 1, 1, 16, 2] })?.kind == "badTensorInfo")
        #expect(try openError(sampleWithTensor { $0.nDimsOverride = 0xFFFF_FFFF })?.kind == "badTensorInfo")
    }

    @Test("an element count that overflows is badTensorInfo")
    func elementCountOverflow() throws {
        #expect(try openError(sampleWithTensor { $0.ne = [1 << 32, 1 << 32, 1 << 32] })?.kind == "badTensorInfo")
        #expect(try openError(sampleWithTensor { $0.ne = [UInt64.max] })?.kind == "badTensorInfo")
        #expect(try openError(sampleWithTensor { $0.ne = [1 << 62] })?.kind == "badTensorInfo")
    }

    @Test("a quantized row that is not a whole number of blocks is badTensorInfo")
    func partialBlock() throws {
        var builder = GGUFBuilder.sample()
        builder.tensors[1].ne = [16, 2]
        #expect(try openError(builder)?.kind == "badTensorInfo")
    }

    @Test("a metadata string longer than the file is truncated")
    func stringPastEnd() throws {
        for length: UInt64 in [1 << 40, UInt64.max, 100] {
            let entry = LE.string("test.long") + LE.bytes(UInt32(8)) + LE.bytes(length) + Array("abc".utf8)
            let error = try openError(sampleWithMetadata(rawEntry: entry))
            #expect(error?.kind == "truncated", "length \(length)")
        }
    }

    @Test("a metadata key longer than the file is truncated")
    func keyPastEnd() throws {
        let entry = LE.bytes(UInt64(1) << 50) + Array("key".utf8)
        #expect(try openError(sampleWithMetadata(rawEntry: entry))?.kind == "truncated")
    }

    @Test("an array count larger than the file is truncated before anything is allocated")
    func arrayCountPastEnd() throws {
        for (elementType, count) in [(UInt32(0), UInt64(1) << 60), (8, UInt64.max), (9, 1 << 40)] {
            let entry = LE.string("test.array") + LE.bytes(UInt32(9)) + LE.bytes(elementType) + LE.bytes(count)
            #expect(try openError(sampleWithMetadata(rawEntry: entry))?.kind == "truncated")
        }
    }

    @Test("an unknown metadata value type is badMetadataType, also inside arrays")
    func unknownValueType() throws {
        let plain = LE.string("test.odd") + LE.bytes(UInt32(13)) + [0, 0, 0, 0]
        if case let .badMetadataType(_, key, typeID) = try openError(sampleWithMetadata(rawEntry: plain)) {
            #expect(key == "test.odd")
            #expect(typeID == 13)
        } else {
            Issue.record("expected badMetadataType")
        }
        let inArray = LE.string("test.odd") + LE.bytes(UInt32(9)) + LE.bytes(UInt32(99)) + LE.bytes(UInt64(0))
        #expect(try openError(sampleWithMetadata(rawEntry: inArray))?.kind == "badMetadataType")
    }

    @Test("arrays nested absurdly deep are badMetadata, not a stack overflow")
    func deepNesting() throws {
        var value = RawValue.array(0, [.u8(1)])
        for _ in 0..<50 { value = .array(9, [value]) }
        let entry = LE.string("test.deep") + LE.bytes(value.typeID) + value.payload
        #expect(try openError(sampleWithMetadata(rawEntry: entry))?.kind == "badMetadata")
    }

    @Test("duplicate metadata keys and duplicate tensor names are rejected")
    func duplicates() throws {
        var keys = GGUFBuilder.sample()
        keys.metadata.append(("test.u8", .u8(1)))
        #expect(try openError(keys)?.kind == "badMetadata")
        var tensors = GGUFBuilder.sample()
        tensors.tensors[1].name = "weights.f32"
        #expect(try openError(tensors)?.kind == "badTensorInfo")
    }

    @Test("general.alignment that is zero or not a power of two is badMetadata")
    func badAlignment() throws {
        for alignment: UInt32 in [0, 3, 48] {
            var builder = GGUFBuilder.sample()
            builder.metadata.append(("general.alignment", .u32(alignment)))
            #expect(try openError(builder)?.kind == "badMetadata")
        }
        var wrongType = GGUFBuilder.sample()
        wrongType.metadata.append(("general.alignment", .string("32")))
        #expect(try openError(wrongType)?.kind == "badMetadata")
    }

    @Test("huge tensor and metadata counts are truncated, not an allocation failure")
    func hugeCounts() throws {
        var bytes = GGUFBuilder.sample().build()
        bytes.replaceSubrange(8..<16, with: LE.bytes(UInt64(1) << 62))
        #expect(try openError(bytes)?.kind == "truncated")
        bytes = GGUFBuilder.sample().build()
        bytes.replaceSubrange(16..<24, with: LE.bytes(UInt64.max))
        #expect(try openError(bytes)?.kind == "truncated")
    }

    @Test("an empty file is truncated; a missing path is fileNotFound; a directory is an I/O error")
    func unreadablePaths() throws {
        #expect(try openError([])?.kind == "truncated")
        let directory = try TemporaryDirectory()
        let missing = directory.url.appendingPathComponent("absent.gguf").path
        #expect(formatError { try GGUFFile(path: missing) } == .fileNotFound(file: missing, referencedBy: nil))
        #expect(formatError { try GGUFFile(path: directory.url.path) }?.kind == "io")
    }
}
