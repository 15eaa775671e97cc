/// Finds special tokens written verbatim in text: a byte trie queried at each scalar boundary,
/// taking the longest token that starts there (leftmost-longest, like HF's added-token matcher).
struct SpecialTokenMatcher: Sendable {
    /// Children of each trie node by next byte; node 0 is the root.
    private var children: [[UInt8: Int32]] = [[:]]
    /// Token that ends at each node, or -1.
    private var tokenAtNode: [Int32] = [-1]
    /// Whether any special token starts with this byte (a quick test before walking the trie). [256]
    private var isFirstByte = [Bool](repeating: false, count: 256)

    /// Whether there are no special tokens to look for.
    var isEmpty: Bool { tokenAtNode.count == 1 }

    /// Builds the trie of `(id, text)` pairs; empty texts are ignored, and of two identical texts the
    /// first wins.
    init(_ tokens: [(id: Int, text: String)]) {
        for (id, text) in tokens where !text.isEmpty {
            var node = 0
            for byte in text.utf8 {
                if let child = children[node][byte] {
                    node = Int(child)
                } else {
                    children.append([:])
                    tokenAtNode.append(-1)
                    children[node][byte] = Int32(children.count - 1)
                    node = children.count - 1
                }
            }
            if tokenAtNode[node] < 0 { tokenAtNode[node] = Int32(id) }
            isFirstByte[Int(text.utf8.first!)] = true
        }
    }

    /// The longest special token starting at byte `offset` of `bytes`, as its id and byte length.
    func match(_ bytes: [UInt8], at offset: Int) -> (id: Int, length: Int)? {
        guard isFirstByte[Int(bytes[offset])] else { return nil }
        var node = 0
        var best: (id: Int, length: Int)?
        var index = offset
        while index < bytes.count, let child = children[node][bytes[index]] {
            node = Int(child)
            index += 1
            if tokenAtNode[node] >= 0 { best = (Int(tokenAtNode[node]), index - offset) }
        }
        return best
    }
}
