import Kernels

/// A set of named tensors backed by one or more memory-mapped files (GGUF, safetensors, a sharded
/// checkpoint), read through one interface.
///
/// Raw views point into the mapping: they stay valid only while the source object is alive.
public protocol TensorSource: AnyObject, Sendable {
    /// The file or directory the tensors come from (used in error messages).
    var path: String { get }
    /// Every tensor, by name.
    var tensorInfos: [String: TensorInfo] { get }
    /// A dequantized f32 copy of a tensor, row-major in `shape` order; throws `missingTensor` etc.
    func floats(_ name: String) throws -> [Float]
    /// The raw, bounds-checked bytes of a tensor, for callers that keep quantized data.
    func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer
}

extension TensorSource {
    /// The description of tensor `name`; throws `missingTensor` when there is none.
    public func info(_ name: String) throws -> TensorInfo {
        guard let info = tensorInfos[name] else {
            throw ModelFormatError.missingTensor(file: path, tensor: name)
        }
        return info
    }

    /// Tensor names in a stable (sorted) order.
    public var tensorNames: [String] { tensorInfos.keys.sorted() }

    /// Dequantizes tensor `name` into `destination`, which must hold exactly its element count.
    public func floats(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let info = try info(name)
        guard destination.count == info.elementCount else {
            throw ModelFormatError.sizeMismatch(
                file: path, tensor: name, expectedBytes: info.elementCount * 4, actualBytes: destination.count * 4)
        }
        let raw = try rawBytes(name)
        guard info.elementCount > 0, let source = raw.baseAddress, let target = destination.baseAddress else { return }
        Dequantize.run(info.type, source: source, count: info.elementCount, into: target)
    }

    /// A dequantized f32 copy of tensor `name` (default implementation for every source).
    public func floats(_ name: String) throws -> [Float] {
        let count = try info(name).elementCount
        return try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            try floats(name, into: buffer)
            initialized = count
        }
    }

    /// A dequantized f32 copy of tensor `name`, after checking that its shape is `shape`
    /// (throws `shapeMismatch` otherwise).
    public func floats(_ name: String, shape: [Int]) throws -> [Float] {
        let actual = try info(name).shape
        guard actual == shape else {
            throw ModelFormatError.shapeMismatch(file: path, tensor: name, expected: shape, actual: actual)
        }
        return try floats(name)
    }
}
