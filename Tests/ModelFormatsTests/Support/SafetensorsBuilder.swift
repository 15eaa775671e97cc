/// Builds small safetensors files in memory from a literal JSON header and data bytes.
enum SafetensorsBuilder {
    /// The file: u64 header length, `header` as UTF-8, then `data`.
    static func file(header: String, data: [UInt8]) -> [UInt8] {
        let json = Array(header.utf8)
        return LE.bytes(UInt64(json.count)) + json + data
    }

    /// A valid file holding f32 tensors, in order, each described with its shape.
    static func file(tensors: [(name: String, shape: [Int], values: [Float])]) -> [UInt8] {
        var entries: [String] = ["\"__metadata__\": {\"format\": \"pt\"}"]
        var data: [UInt8] = []
        for tensor in tensors {
            let begin = data.count
            data += tensor.values.flatMap(LE.f32)
            entries.append(
                "\"\(tensor.name)\": {\"dtype\": \"F32\", \"shape\": \(tensor.shape), \"data_offsets\": [\(begin), \(data.count)]}")
        }
        return file(header: "{" + entries.joined(separator: ", ") + "}", data: data)
    }
}
