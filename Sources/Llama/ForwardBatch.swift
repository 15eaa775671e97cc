import Adapters

/// Which rows of a chunk need logits.
public enum LogitRows: Sendable, Equatable {
    /// None: a prefill chunk that is not the prompt's last.
    case none
    /// The chunk's last row: the next token is sampled from it.
    case last
    /// Every row (scoring a whole sequence, tests).
    case all
}

/// A run of consecutive tokens of one sequence inside a forward step: a prefill chunk or a
/// single decode token. Position `firstPosition + i` goes to KV slot `firstPosition + i`.
public struct ForwardChunk: Sendable {
    /// Input token ids of the chunk.
    public var tokens: [Int32]
    /// Position of the first token; earlier positions must already be in the cache.
    public var firstPosition: Int
    /// The sequence's cache blocks; must cover firstPosition + tokens.count positions.
    public var blockTable: [Int32]
    /// Which rows produce logits.
    public var logitRows: LogitRows
    /// The sequence's adapter; nil runs the base alone. Chunks of one adapter placed next to
    /// each other form one segment (fewer, larger adapter products).
    public var adapter: AdapterUse?

    /// Creates a chunk.
    public init(tokens: [Int32], firstPosition: Int, blockTable: [Int32], logitRows: LogitRows,
                adapter: AdapterUse? = nil) {
        self.tokens = tokens
        self.firstPosition = firstPosition
        self.blockTable = blockTable
        self.logitRows = logitRows
        self.adapter = adapter
    }

    /// Number of rows that produce logits.
    public var logitRowCount: Int {
        switch logitRows {
        case .none: return 0
        case .last: return tokens.isEmpty ? 0 : 1
        case .all: return tokens.count
        }
    }
}
