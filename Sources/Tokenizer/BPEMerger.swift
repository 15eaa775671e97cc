/// The merge step of byte-level BPE: turns one piece's bytes into token ids by repeatedly merging
/// the adjacent pair of lowest rank (leftmost first among equal ranks), as HF `tokenizers` does.
struct BPEMerger: Sendable {
    /// Token of each single byte, or -1 when the vocabulary lacks it (that byte is then dropped, as HF
    /// does for a BPE model without an unknown token). [256]
    let byteTokens: [Int32]
    /// Merge rules: key `left << 32 | right`, value `rank << 32 | merged`.
    let rules: [UInt64: UInt64]

    /// Reusable buffers, so merging a piece allocates nothing once they have grown.
    struct Scratch {
        /// Token at each symbol slot; a merge writes the result into the left slot. [n]
        var symbols: [Int32] = []
        /// Previous live slot, -1 at the start. [n]
        var previous: [Int32] = []
        /// Next live slot, `n` at the end. [n]
        var next: [Int32] = []
        /// Candidate merges as a binary min-heap on `key` = rank << 32 | left slot.
        var heap: [Candidate] = []
    }

    /// A possible merge of the symbols at slot `left` and the one after it.
    struct Candidate {
        var key: UInt64
        var leftToken: Int32
        var rightToken: Int32
        var merged: Int32
    }

    /// Appends the tokens of `bytes` to `output`.
    func merge(_ bytes: ArraySlice<UInt8>, scratch: inout Scratch, into output: inout [Int]) {
        scratch.symbols.removeAll(keepingCapacity: true)
        for byte in bytes {
            let token = byteTokens[Int(byte)]
            if token >= 0 { scratch.symbols.append(token) }
        }
        let count = scratch.symbols.count
        if count < 2 {
            for token in scratch.symbols { output.append(Int(token)) }
            return
        }
        scratch.previous.removeAll(keepingCapacity: true)
        scratch.next.removeAll(keepingCapacity: true)
        scratch.heap.removeAll(keepingCapacity: true)
        for slot in 0..<count {
            scratch.previous.append(Int32(slot - 1))
            scratch.next.append(Int32(slot + 1))
        }
        for slot in 0..<(count - 1) {
            pushCandidate(slot: slot, scratch.symbols[slot], scratch.symbols[slot + 1], &scratch.heap)
        }
        while let candidate = popMin(&scratch.heap) {
            let slot = Int(candidate.key & 0xFFFF_FFFF)
            // Skip candidates made stale by an earlier merge of either side.
            guard scratch.symbols[slot] == candidate.leftToken else { continue }
            let right = Int(scratch.next[slot])
            guard right < count, scratch.symbols[right] == candidate.rightToken else { continue }

            scratch.symbols[slot] = candidate.merged
            scratch.symbols[right] = -1
            let afterRight = Int(scratch.next[right])
            scratch.next[slot] = Int32(afterRight)
            if afterRight < count { scratch.previous[afterRight] = Int32(slot) }

            let before = Int(scratch.previous[slot])
            if before >= 0 {
                pushCandidate(slot: before, scratch.symbols[before], candidate.merged, &scratch.heap)
            }
            if afterRight < count {
                pushCandidate(slot: slot, candidate.merged, scratch.symbols[afterRight], &scratch.heap)
            }
        }
        var slot = 0
        while slot < count {
            output.append(Int(scratch.symbols[slot]))
            slot = Int(scratch.next[slot])
        }
    }

    private func pushCandidate(slot: Int, _ left: Int32, _ right: Int32, _ heap: inout [Candidate]) {
        guard let rule = rules[UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))] else { return }
        let rank = rule >> 32
        heap.append(Candidate(
            key: rank << 32 | UInt64(slot), leftToken: left, rightToken: right,
            merged: Int32(truncatingIfNeeded: rule & 0xFFFF_FFFF)))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].key < heap[parent].key else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private func popMin(_ heap: inout [Candidate]) -> Candidate? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if heap.isEmpty { return top }
        heap[0] = last
        var parent = 0
        let count = heap.count
        while true {
            let left = 2 * parent + 1
            if left >= count { break }
            let right = left + 1
            let smaller = right < count && heap[right].key < heap[left].key ? right : left
            guard heap[smaller].key < heap[parent].key else { break }
            heap.swapAt(smaller, parent)
            parent = smaller
        }
        return top
    }
}
