/// A fixed-size, 64-byte-aligned buffer of Float that owns its memory.
///
/// Weights, activations and the KV cache live in these: contiguous, allocated once,
/// freed once, and reachable from hot loops as plain pointers.
public final class FloatBuffer: @unchecked Sendable {
    /// Number of floats.
    public let count: Int
    /// Start of the storage; valid for the buffer's lifetime.
    public let pointer: UnsafeMutablePointer<Float>

    /// Allocates `count` floats, all zero.
    public init(count: Int) {
        precondition(count >= 0, "negative buffer size")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    /// Allocates a copy of `values`.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { pointer.update(from: base, count: values.count) }
        }
    }

    deinit { pointer.deallocate() }

    /// Bytes held by this buffer.
    public var byteCount: Int { count * MemoryLayout<Float>.stride }

    /// A copy of the contents as an array (tests and small reads only).
    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// Element access (not for hot loops).
    public subscript(index: Int) -> Float {
        get { precondition(index >= 0 && index < count); return pointer[index] }
        set { precondition(index >= 0 && index < count); pointer[index] = newValue }
    }
}
