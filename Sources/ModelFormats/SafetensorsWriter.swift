import Foundation

/// Writes tensors as a safetensors file (the format `SafetensorsFile` reads): u64 header
/// length, JSON header padded with spaces to 8 bytes, then the tensors back to back in name order.
public struct SafetensorsWriter {
    /// How a tensor's values are written (16-bit kinds round to nearest even).
    public enum DType: String, Sendable, CaseIterable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16"

        var size: Int { self == .f32 ? 4 : 2 }
    }

    private var tensors: [(name: String, shape: [Int], values: [Float], dtype: DType)] = []
    private var metadata: [String: String]

    /// An empty file, with optional free-form `__metadata__` strings (PEFT writes {"format": "pt"}).
    public init(metadata: [String: String] = ["format": "pt"]) {
        self.metadata = metadata
    }

    /// Adds a tensor; `values` is row-major and must hold the product of `shape` elements.
    public mutating func add(_ name: String, shape: [Int], values: [Float], dtype: DType = .f32) {
        precondition(shape.reduce(1, *) == values.count, "\(name): \(values.count) values for shape \(shape)")
        precondition(!tensors.contains { $0.name == name }, "\(name) added twice")
        tensors.append((name, shape, values, dtype))
    }

    /// The file's bytes.
    public func serialized() throws -> Data {
        let ordered = tensors.sorted { $0.name < $1.name }
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        for tensor in ordered {
            let bytes = tensor.values.count * tensor.dtype.size
            header[tensor.name] = ["dtype": tensor.dtype.rawValue, "shape": tensor.shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var data = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        for tensor in ordered {   // little-endian hosts only (x86-64, arm64)
            switch tensor.dtype {
            case .f32: tensor.values.withUnsafeBytes { data.append(contentsOf: $0) }
            case .f16: tensor.values.map { Float16($0).bitPattern }.withUnsafeBytes { data.append(contentsOf: $0) }
            case .bf16: tensor.values.map(Self.bfloat16Bits).withUnsafeBytes { data.append(contentsOf: $0) }
            }
        }
        return data
    }

    /// The bfloat16 nearest to `value` (ties to even; NaN stays NaN).
    static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x40 }
        return UInt16((bits &+ 0x7fff &+ ((bits >> 16) & 1)) >> 16)
    }

    /// Writes the file to `path` atomically.
    public func write(to path: String) throws {
        try serialized().write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
