/// The adapter one sequence runs with, and the request's multiplier on its delta.
public struct AdapterUse: Sendable {
    /// The pinned adapter version.
    public let adapter: Adapter
    /// Multiplies the LoRA/DoRA delta (1 = as trained). Ignored by other kinds.
    public let scale: Float

    /// Uses `adapter` with delta multiplier `scale`.
    public init(_ adapter: Adapter, scale: Float = 1) {
        self.adapter = adapter
        self.scale = scale
    }

    /// Whether two uses compute the same thing (same adapter version, same scale): such rows
    /// can share a segment.
    public func sharesSegment(with other: AdapterUse) -> Bool { adapter === other.adapter && scale == other.scale }
}

/// Rows [firstRow, firstRow + rowCount) of a step that run with one adapter: the unit every
/// adapter product works on (the CPU form of Punica's SGMV segments).
public struct AdapterSegment: Sendable {
    public let firstRow: Int
    public let rowCount: Int
    public let use: AdapterUse

    /// A segment.
    public init(firstRow: Int, rowCount: Int, use: AdapterUse) {
        self.firstRow = firstRow
        self.rowCount = rowCount
        self.use = use
    }
}
