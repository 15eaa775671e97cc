import Foundation

/// Writes f32 tensors as a safetensors file (the format `SafetensorsFile` reads): u64 header
/// length, JSON header padded with spaces to 8 bytes, then the tensors back to back in name order.
public struct SafetensorsWriter {
    private var tensors: [(name: String, shape: [Int], values: [Float])] = []
    private var metadata: [String: String]

    /// An empty file, with optional free-form `__metadata__` strings (PEFT writes {"format": "pt"}).
    public init(metadata: [String: String] = ["format": "pt"]) {
        self.metadata = metadata
    }

    /// Adds a tensor; `values` is row-major and must hold the product of `shape` elements.
    public mutating func add(_ name: String, shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "\(name): \(values.count) values for shape \(shape)")
        precondition(!tensors.contains { $0.name == name }, "\(name) added twice")
        tensors.append((name, shape, values))
    }

    /// The file's bytes.
    public func serialized() throws -> Data {
        let ordered = tensors.sorted { $0.name < $1.name }
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        for tensor in ordered {
            let bytes = tensor.values.count * 4
            header[tensor.name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var data = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        for tensor in ordered {
            tensor.values.withUnsafeBytes { data.append(contentsOf: $0) }   // little-endian hosts only (x86-64, arm64)
        }
        return data
    }

    /// Writes the file to `path` atomically.
    public func write(to path: String) throws {
        try serialized().write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
