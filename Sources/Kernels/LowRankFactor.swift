import CKernels

/// How adapter factors are stored for the low-rank kernel.
public enum FactorPrecision: String, Sendable, CaseIterable {
    /// As loaded: results match PEFT to float rounding.
    case f32
    /// IEEE binary16: half the memory and half the bytes each step reads, at about 3 significant
    /// digits per weight (the delta, not the base, carries that rounding).
    case f16
}

/// One low-rank factor (A or Bᵀ) as the kernel reads it: f32 or IEEE binary16, contiguous,
/// row-major, allocated once.
public final class LowRankFactor: @unchecked Sendable {
    public let count: Int
    public let precision: FactorPrecision
    /// The f32 values (precision f32) — kept so f32 factors cost no copy.
    private let floats: FloatBuffer?
    /// The binary16 values (precision f16).
    private let halves: UnsafeMutablePointer<UInt16>?
    /// Start of the storage, for the kernel (see `isHalf`). Stored: it is read for every
    /// (segment, module) of every step.
    public let pointer: UnsafeRawPointer

    /// `values` stored at `precision` (rounded to nearest even for f16).
    public init(_ values: FloatBuffer, precision: FactorPrecision) {
        count = values.count
        self.precision = precision
        switch precision {
        case .f32:
            floats = values
            halves = nil
            pointer = UnsafeRawPointer(values.pointer)
        case .f16:
            floats = nil
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 2, alignment: 64)
            let pointer = raw.bindMemory(to: UInt16.self, capacity: max(count, 1))
            sb_f32_to_f16(values.pointer, pointer, Int64(count))
            halves = pointer
            self.pointer = UnsafeRawPointer(pointer)
        }
    }

    deinit { halves?.deallocate() }

    /// Whether `pointer` holds binary16 values.
    public var isHalf: Bool { precision == .f16 }
    /// Bytes of storage.
    public var byteCount: Int { count * (isHalf ? 2 : 4) }

    /// Element access as f32 (tests and load-time checks, not hot loops).
    public subscript(index: Int) -> Float {
        precondition(index >= 0 && index < count)
        if let floats { return floats.pointer[index] }
        var value: Float = 0
        sb_f16_to_f32(halves! + index, &value, 1)
        return value
    }

    /// Largest magnitude binary16 can hold; f16 storage of larger values would be infinite.
    public static let largestHalf: Float = 65504
}
