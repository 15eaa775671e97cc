import Kernels

/// Where one tensor lives in its file and how it is encoded.
public struct TensorInfo: Sendable, Equatable {
    /// The tensor's name as stored in the file.
    public let name: String
    /// Dimensions, outermost first (HF / numpy order). For GGUF this is `ne` reversed, so a linear
    /// weight with ne = [in, out] has shape [out, in].
    public let shape: [Int]
    /// The encoding of the data.
    public let type: GGMLType
    /// Absolute byte offset of the data in its file.
    public let offset: Int
    /// Size of the data in bytes.
    public let byteCount: Int

    /// Creates a tensor description; readers validate the fields before building one.
    public init(name: String, shape: [Int], type: GGMLType, offset: Int, byteCount: Int) {
        self.name = name
        self.shape = shape
        self.type = type
        self.offset = offset
        self.byteCount = byteCount
    }

    /// Number of elements (the product of `shape`; 1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// The product of `dimensions`, or nil when a dimension is negative or the product overflows.
func checkedElementCount(_ dimensions: [Int]) -> Int? {
    var count = 1
    for dimension in dimensions {
        guard dimension >= 0 else { return nil }
        let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
        if overflow { return nil }
        count = product
    }
    return count
}
