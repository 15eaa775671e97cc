import CKernels

/// A weight matrix [rows, columns] kept in its GGUF block format (Q4_1 or Q8_0), row by row,
/// for the small-batch kernels. Holds its own copy of the bytes.
public final class QuantizedMatrix: @unchecked Sendable {
    /// Block format of every row.
    public let type: GGMLType
    /// Output features.
    public let rows: Int
    /// Input features (a multiple of 32).
    public let columns: Int
    /// rows × (columns / 32) blocks.
    public let bytes: UnsafeMutableRawPointer
    /// Bytes of one row.
    public let rowBytes: Int

    /// Types the small-batch kernels read directly.
    public static func supports(_ type: GGMLType, columns: Int) -> Bool {
        (type == .q4_1 || type == .q8_0) && columns % 32 == 0 && columns <= 32 * 1024
    }

    /// Stacks row blocks: `parts` are (raw bytes, rows) pairs of one type with `columns` inputs,
    /// and `rowOrder[i]` (when given for a part) names which stored row becomes row i.
    public init(type: GGMLType, columns: Int, parts: [(bytes: UnsafeRawBufferPointer, rows: Int, rowOrder: [Int]?)]) {
        precondition(Self.supports(type, columns: columns))
        self.type = type
        self.columns = columns
        rowBytes = columns / type.blockSize * type.bytesPerBlock
        rows = parts.reduce(0) { $0 + $1.rows }
        bytes = UnsafeMutableRawPointer.allocate(byteCount: max(rows * rowBytes, 1), alignment: 64)
        var destination = 0
        for part in parts {
            precondition(part.bytes.count == part.rows * rowBytes, "quantized part has the wrong size")
            for i in 0..<part.rows {
                let source = part.rowOrder?[i] ?? i
                (bytes + destination * rowBytes).copyMemory(from: part.bytes.baseAddress! + source * rowBytes, byteCount: rowBytes)
                destination += 1
            }
        }
    }

    deinit { bytes.deallocate() }

    /// Bytes held.
    public var byteCount: Int { rows * rowBytes }

    /// Whether the panel kernel may use AVX-512 (on by default where the CPU has it); returns
    /// whether it is in use. Tests turn it off to check the AVX2 path.
    @discardableResult
    public static func allowAVX512(_ allowed: Bool) -> Bool { sb_set_avx512(allowed ? 1 : 0) != 0 }

    /// Whether the panel kernel uses AVX-512 (the CPU has it and tests have not turned it off).
    public static var usesAVX512: Bool { sb_avx512_in_use() != 0 }

    /// Rows up to this use the one-pass kernel (each block decoded in registers per row group);
    /// more rows use the panel kernel (4 weight rows decoded to L1 once, then every x row).
    public static let vectorKernelRows = 2

    /// Semantics: `y[m, n] = x[m, :] · W[n, :]` (+ y if accumulate) for m < batchRows, W dequantized
    /// exactly as `Dequantize` does (only the summation order differs). Split across the kernel
    /// thread pool.
    public func xwt(batchRows: Int, x: UnsafePointer<Float>, ldx: Int, y: UnsafeMutablePointer<Float>, ldy: Int,
                    accumulate: Bool = false) {
        precondition(batchRows >= 0)
        guard batchRows > 0 else { return }
        let acc: Int32 = accumulate ? 1 : 0
        if batchRows > Self.vectorKernelRows {
            sb_gemm_quant_panel(Int32(type.rawValue), x, Int32(ldx), Int32(batchRows), bytes, Int32(columns), Int32(rows),
                                y, Int32(ldy), acc)
            return
        }
        switch type {
        case .q4_1:
            sb_gemm_q4_1(x, Int32(ldx), Int32(batchRows), bytes, Int32(columns), Int32(rows), y, Int32(ldy), acc)
        case .q8_0:
            sb_gemm_q8_0(x, Int32(ldx), Int32(batchRows), bytes, Int32(columns), Int32(rows), y, Int32(ldy), acc)
        default:
            preconditionFailure("unsupported quantized type \(type)")
        }
    }

    /// `xwt`, then `LowRank.apply(lowRank)` on its output (the tasks read the same x), to the same
    /// bits. With the panel kernel the two run together: the low-rank tasks, bound by reading
    /// their factors, alongside the panels, bound by arithmetic. `delta`: scratch laid out like y
    /// (`batchRows` rows of `ldy` floats).
    public func xwt(batchRows: Int, x: UnsafePointer<Float>, ldx: Int, y: UnsafeMutablePointer<Float>, ldy: Int,
                    accumulate: Bool = false, lowRank: UnsafeBufferPointer<LowRank.Task>,
                    delta: UnsafeMutablePointer<Float>) {
        guard let tasks = lowRank.baseAddress, !lowRank.isEmpty, batchRows > Self.vectorKernelRows else {
            xwt(batchRows: batchRows, x: x, ldx: ldx, y: y, ldy: ldy, accumulate: accumulate)
            LowRank.apply(lowRank, x: x, ldx: ldx, y: y, ldy: ldy)
            return
        }
        sb_gemm_quant_panel_lowrank(Int32(type.rawValue), x, Int32(ldx), Int32(batchRows), bytes, Int32(columns),
                                    Int32(rows), y, Int32(ldy), accumulate ? 1 : 0, tasks, Int32(lowRank.count), delta)
    }
}
