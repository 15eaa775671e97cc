import Kernels

/// Keys and values of every running sequence, in fixed-size blocks from one pool.
///
/// Memory is bounded by the pool size chosen at start; a sequence owns a list of block ids
/// (its block table) and position p lives in slot p % blockSize of block table[p / blockSize].
/// Confined to the engine thread.
public final class PagedKVCache: @unchecked Sendable {
    /// Tokens per block.
    public let blockSize: Int
    /// Blocks in the pool.
    public let blockCount: Int
    /// Floats per token per layer for keys (and again for values).
    public let kvDim: Int
    /// Per layer: [blockCount, blockSize, kvDim].
    public let keys: [FloatBuffer]
    /// Per layer: [blockCount, blockSize, kvDim].
    public let values: [FloatBuffer]
    private var freeList: [Int32]

    /// Creates a pool of `blockCount` blocks for a model of `config`'s shape.
    public init(config: LlamaConfig, blockSize: Int = 16, blockCount: Int) {
        precondition(blockSize > 0 && blockCount > 0)
        self.blockSize = blockSize
        self.blockCount = blockCount
        self.kvDim = config.kvDim
        let floats = blockCount * blockSize * config.kvDim
        keys = (0..<config.layerCount).map { _ in FloatBuffer(count: floats) }
        values = (0..<config.layerCount).map { _ in FloatBuffer(count: floats) }
        // Pop from the end hands out low block ids first.
        freeList = (0..<Int32(blockCount)).reversed()
    }

    /// A pool sized to `megabytes` of keys and values.
    public convenience init(config: LlamaConfig, blockSize: Int = 16, megabytes: Int) {
        let bytesPerBlock = Self.bytesPerBlock(config: config, blockSize: blockSize)
        self.init(config: config, blockSize: blockSize, blockCount: max(1, megabytes * 1_048_576 / bytesPerBlock))
    }

    /// Bytes one block takes across all layers, keys and values.
    public static func bytesPerBlock(config: LlamaConfig, blockSize: Int) -> Int {
        2 * config.layerCount * blockSize * config.kvDim * MemoryLayout<Float>.stride
    }

    /// Blocks not owned by any sequence.
    public var freeBlockCount: Int { freeList.count }
    /// Blocks owned by sequences.
    public var usedBlockCount: Int { blockCount - freeList.count }

    /// Blocks needed to hold `tokens` positions.
    public func blocksNeeded(tokens: Int) -> Int { (tokens + blockSize - 1) / blockSize }

    /// Grows `table` so it covers `tokens` positions; false (and no change) if the pool is short.
    public func reserve(_ table: inout [Int32], tokens: Int) -> Bool {
        let missing = blocksNeeded(tokens: tokens) - table.count
        guard missing > 0 else { return true }
        guard missing <= freeList.count else { return false }
        for _ in 0..<missing { table.append(freeList.removeLast()) }
        return true
    }

    /// Returns a sequence's blocks to the pool and empties its table.
    public func release(_ table: inout [Int32]) {
        freeList.append(contentsOf: table.reversed())
        table.removeAll()
    }
}
