import CKernels

/// How adapter factors are stored for the low-rank kernel.
public enum FactorPrecision: String, Sendable, CaseIterable {
    /// As loaded: results match PEFT to float rounding.
    case f32
    /// IEEE binary16: half the memory and half the bytes each step reads, at about 3 significant
    /// digits per weight (the delta, not the base, carries that rounding).
    case f16
    /// bfloat16 (the upper half of an f32): adapters trained in bf16 store their factors so, and
    /// are kept so exactly; from f32 values it rounds to 8 significant bits (f16 keeps 11).
    case bf16

    /// Bytes per stored value.
    public var elementSize: Int { self == .f32 ? 4 : 2 }

    /// The kernel's code for this storage (`sb_lowrank_task.storage`).
    public var kernelStorage: Int32 {
        switch self {
        case .f32: SB_FACTOR_F32
        case .f16: SB_FACTOR_F16
        case .bf16: SB_FACTOR_BF16
        }
    }
}

/// Which factor of a low-rank delta, and so how it is tiled for the kernel (`sb_a_index`,
/// `sb_bt_index`): each is stored in the order a decode row reads it.
public enum FactorLayout: Sendable {
    /// A [rank, in]: tiles of 8 ranks × 16 inputs.
    case a
    /// Bᵀ [rank, out]: tiles of every rank × 128 outputs.
    case bTransposed

    /// Where element (row, column) of a rows × columns factor is stored.
    @inline(__always)
    func storageIndex(row: Int, column: Int, rows: Int, columns: Int) -> Int {
        switch self {
        case .a: Int(sb_a_index(Int32(row), Int32(column), Int32(rows), Int32(columns)))
        case .bTransposed: Int(sb_bt_index(Int32(row), Int32(column), Int32(rows), Int32(columns)))
        }
    }
}

/// One low-rank factor (A or Bᵀ) as the kernel reads it: f32, IEEE binary16 or bfloat16,
/// tiled (`FactorLayout`), written once at load.
public final class LowRankFactor: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    public let layout: FactorLayout
    public let precision: FactorPrecision
    /// Start of the storage, for the kernel (see `precision` and `layout`). Stored: it is read
    /// for every (segment, module) of every step.
    public let pointer: UnsafeRawPointer
    /// The adapter's arena the storage lives in, kept alive by every factor in it; nil when the
    /// factor owns a heap block of its own.
    private let arena: FactorArena?

    /// The rows × columns matrix `values` (row-major), tiled for `layout` and stored at `precision`
    /// (rounded to nearest even for f16 and bf16), in `arena` when given (an adapter's factors
    /// share one), else in a heap block of its own.
    public init(_ values: FloatBuffer, rows: Int, columns: Int, layout: FactorLayout, precision: FactorPrecision,
                arena: FactorArena? = nil) {
        precondition(rows >= 0 && columns >= 0 && values.count == rows * columns, "factor shape does not match its values")
        self.rows = rows
        self.columns = columns
        self.layout = layout
        self.precision = precision
        self.arena = arena
        let count = rows * columns
        let tiled = FloatBuffer(count: count)
        for row in 0..<rows {
            for column in 0..<columns {
                tiled.pointer[layout.storageIndex(row: row, column: column, rows: rows, columns: columns)] =
                    values.pointer[row * columns + column]
            }
        }
        let byteCount = max(count, 1) * precision.elementSize
        let raw = arena?.allocate(byteCount: byteCount)
            ?? UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: FactorArena.alignment)
        switch precision {
        case .f32:
            raw.copyMemory(from: tiled.pointer, byteCount: count * 4)
        case .f16:
            sb_f32_to_f16(tiled.pointer, raw.bindMemory(to: UInt16.self, capacity: max(count, 1)), Int64(count))
        case .bf16:
            sb_f32_to_bf16(tiled.pointer, raw.bindMemory(to: UInt16.self, capacity: max(count, 1)), Int64(count))
        }
        pointer = UnsafeRawPointer(raw)
    }

    deinit {
        if arena == nil { UnsafeMutableRawPointer(mutating: pointer).deallocate() }
    }

    /// Values held.
    public var count: Int { rows * columns }

    /// Bytes of storage.
    public var byteCount: Int { count * precision.elementSize }

    /// Element (row, column) as f32 (tests and load-time checks, not hot loops).
    public subscript(row: Int, column: Int) -> Float {
        precondition(row >= 0 && row < rows && column >= 0 && column < columns)
        let index = layout.storageIndex(row: row, column: column, rows: rows, columns: columns)
        switch precision {
        case .f32: return pointer.load(fromByteOffset: index * 4, as: Float.self)
        case .f16: return Dequantize.floatFromHalf(pointer.load(fromByteOffset: index * 2, as: UInt16.self))
        case .bf16: return Dequantize.floatFromBFloat16(pointer.load(fromByteOffset: index * 2, as: UInt16.self))
        }
    }

    /// Element `index` of the row-major matrix (row = index / columns), as f32.
    public subscript(index: Int) -> Float {
        precondition(index >= 0 && index < count)
        return self[index / columns, index % columns]
    }

    /// Largest magnitude binary16 can hold; f16 storage of larger values would be infinite.
    public static let largestHalf: Float = 65504
}
