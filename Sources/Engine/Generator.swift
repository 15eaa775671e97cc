import Adapters
import Llama
import Tokenizer

/// Identifies a sequence inside a `Generator`.
public struct SequenceID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public var description: String { "seq-\(rawValue)" }
}

/// What happened to a sequence during a step.
public enum GenerationEvent: Sendable, Equatable {
    /// A token was generated; `text` is the newly complete text it adds (may be empty while a
    /// character or a possible stop string is still incomplete). `logprobs` when the request asked.
    case token(SequenceID, token: Int, text: String, logprobs: TokenLogprobs?)
    /// The sequence ended; `text` is any held-back text flushed at the end.
    case finished(SequenceID, reason: FinishReason, text: String)
    /// The sequence cannot run (it does not fit the KV cache even alone); it has been removed.
    case failed(SequenceID, GenerationError)
}

/// Why a request cannot be run.
public enum GenerationError: Error, Equatable, Sendable, CustomStringConvertible {
    case emptyPrompt
    case promptTooLong(tokens: Int, context: Int)
    case tokenOutOfRange(token: Int, vocabulary: Int)
    case cacheExhausted(neededBlocks: Int, freeBlocks: Int)
    case adapterDoesNotFit(reason: String)

    public var description: String {
        switch self {
        case .emptyPrompt: return "the prompt has no tokens"
        case let .promptTooLong(tokens, context): return "the prompt has \(tokens) tokens; the model's context is \(context)"
        case let .tokenOutOfRange(token, vocabulary): return "token id \(token) is outside the vocabulary (0..<\(vocabulary))"
        case let .cacheExhausted(needed, free): return "the KV cache has \(free) free blocks; this sequence needs \(needed)"
        case let .adapterDoesNotFit(reason): return reason
        }
    }
}

/// Runs many sequences together: every step carries prefill chunks of some sequences and one
/// decode token of each of the others, in one forward pass.
///
/// Confined to one thread (the engine thread in the server, the main thread in the CLI).
public final class Generator {
    public let model: LlamaModel
    public let cache: PagedKVCache
    public let tokenizer: BPETokenizer?
    /// Most tokens one step may carry (decode tokens first, then prefill chunks).
    public let maxStepTokens: Int
    private var sequences: [ActiveSequence] = []
    /// This generator's activation buffers (the model may be shared with other generators).
    private let scratch = ForwardScratch()
    private var nextID = 0

    /// A generator over `model`, with sequences' keys and values in `cache`.
    public init(model: LlamaModel, cache: PagedKVCache, tokenizer: BPETokenizer?, maxStepTokens: Int = 512) {
        precondition(maxStepTokens > 0)
        self.model = model
        self.cache = cache
        self.tokenizer = tokenizer
        self.maxStepTokens = maxStepTokens
    }

    /// Sequences not yet finished.
    public var activeCount: Int { sequences.count }

    /// Starts a sequence; it joins the next step.
    /// With `adapter`, the sequence runs with that adapter version until it ends.
    public func add(prompt: [Int], parameters: SamplingParameters, adapter: AdapterUse? = nil) throws -> SequenceID {
        guard !prompt.isEmpty else { throw GenerationError.emptyPrompt }
        let context = model.config.contextLength
        let total = prompt.count + (adapter?.adapter.virtualTokenCount ?? 0)
        guard total < context else { throw GenerationError.promptTooLong(tokens: total, context: context) }
        if let bad = prompt.first(where: { $0 < 0 || $0 >= model.config.vocabularySize }) {
            throw GenerationError.tokenOutOfRange(token: bad, vocabulary: model.config.vocabularySize)
        }
        let id = SequenceID(rawValue: nextID)
        nextID += 1
        sequences.append(ActiveSequence(id: id, prompt: prompt, parameters: parameters, adapter: adapter,
                                        tokenizer: tokenizer))
        return id
    }

    /// Ends a sequence early and frees its cache blocks.
    public func cancel(_ id: SequenceID) -> GenerationEvent? {
        guard let index = sequences.firstIndex(where: { $0.id == id }) else { return nil }
        cache.release(&sequences[index].blockTable)
        sequences.remove(at: index)
        return .finished(id, reason: .cancelled, text: "")
    }

    /// Rows (tokens) the last step ran.
    public private(set) var lastStepTokens = 0

    /// Blocks the sequences will hold at their promised peak: prompt plus up to
    /// `outputReserve` generated tokens (fewer if `max_tokens` is smaller), or what they hold
    /// and need now if they already went past it. Admission control keeps the total within the pool.
    public func promisedBlocks(outputReserve: Int) -> Int {
        sequences.reduce(0) { total, s in
            let promised = s.promptCount + min(s.parameters.maxTokens, outputReserve)
            return total + cache.blocksNeeded(tokens: max(promised, s.tokens.count + 1))
        }
    }

    /// Sequences whose cache was dropped to make room (they recompute it when they run again).
    public private(set) var preemptionCount = 0

    /// Runs one forward step and returns what it produced.
    ///
    /// When the KV pool cannot hold this step's chunks, a sequence that holds no blocks yet (new,
    /// or preempted earlier) waits for a later step; for one that does, the youngest sequence
    /// holding blocks is preempted: its blocks are freed and it recomputes its tokens (prompt
    /// and generated so far) once there is room, with the same sampler state, so its output
    /// does not change. Waiting instead of preempting for block-less sequences is what keeps a
    /// full pool from thrashing: taking blocks from a running sequence to start another only
    /// moves the shortage.
    public func step() throws -> [GenerationEvent] {
        guard !sequences.isEmpty else { return [] }
        var events: [GenerationEvent] = []
        // Rows of one adapter next to each other: each adapter's products then run once per step.
        var planned = groupedByAdapter(plan())
        var failed: Set<Int> = []
        var k = 0
        while k < planned.count {
            if reserveChunk(&planned[k]) { k += 1; continue }
            let i = planned[k].index
            let holders = sequences.indices.filter { !sequences[$0].blockTable.isEmpty && !failed.contains($0) }
            if sequences[i].blockTable.isEmpty && holders.contains(where: { $0 != i }) {
                planned.remove(at: k)   // waits until running sequences free blocks
                continue
            }
            let victim = holders.max { sequences[$0].id.rawValue < sequences[$1].id.rawValue } ?? i
            if victim == i && holders.allSatisfy({ $0 == i }) {
                // Alone and still too big: it can never run with this pool.
                let needed = cache.blocksNeeded(tokens: sequences[i].tokens.count) - sequences[i].blockTable.count
                events.append(.failed(sequences[i].id, .cacheExhausted(neededBlocks: needed, freeBlocks: cache.freeBlockCount)))
                failed.insert(i)
                planned.remove(at: k)
                continue
            }
            cache.release(&sequences[victim].blockTable)
            sequences[victim].cachedCount = 0
            preemptionCount += 1
            if let position = planned.firstIndex(where: { $0.index == victim }) {
                planned.remove(at: position)
                if position < k { k -= 1 }
            }
        }

        var chunks: [ForwardChunk] = []
        chunks.reserveCapacity(planned.count)
        for (i, count) in planned {
            let first = sequences[i].cachedCount, all = sequences[i].tokens
            let samples = first + count == all.count
            chunks.append(ForwardChunk(tokens: all[first..<first + count].map(Int32.init), firstPosition: first,
                                       blockTable: sequences[i].blockTable, logitRows: samples ? .last : .none,
                                       adapter: sequences[i].adapter))
        }
        let logits = chunks.isEmpty ? nil : model.forward(chunks, cache: cache, scratch: scratch)
        lastStepTokens = chunks.reduce(0) { $0 + $1.tokens.count }

        var finished = failed
        var logitRow = 0
        for (chunkIndex, (i, count)) in planned.enumerated() {
            sequences[i].cachedCount += count
            guard let logits, chunks[chunkIndex].logitRows == .last else { continue }
            let row = logits.row(logitRow)
            logitRow += 1
            let token = sequences[i].sampler.sample(row)
            let logprobs = sequences[i].parameters.logprobs.map { TokenLogprobs(logits: row, chosen: token, top: $0) }
            let outcome = sequences[i].accept(token: token, contextLength: model.config.contextLength)
            events.append(.token(sequences[i].id, token: token, text: outcome.text, logprobs: logprobs))
            if let reason = outcome.finish {
                events.append(.finished(sequences[i].id, reason: reason, text: sequences[i].flush()))
                finished.insert(i)
            }
        }
        for i in finished.sorted(by: >) {
            cache.release(&sequences[i].blockTable)
            sequences.remove(at: i)
        }
        return events
    }

    /// This step's work: one decode token of every sequence that has one pending, then prefill
    /// chunks in arrival order, up to `maxStepTokens` tokens in all.
    private func plan() -> [(index: Int, count: Int)] {
        var budget = maxStepTokens
        var planned: [(index: Int, count: Int)] = []
        for (i, s) in sequences.enumerated() where s.pendingCount == 1 && budget > 0 {
            planned.append((i, 1)); budget -= 1
        }
        for (i, s) in sequences.enumerated() where s.pendingCount > 1 && budget > 0 {
            let n = min(s.pendingCount, budget)
            planned.append((i, n)); budget -= n
        }
        return planned
    }

    /// Reserves cache blocks for a planned chunk (writing a prefix-tuning adapter's keys and
    /// values first when the sequence has none cached); false if the pool is short.
    private func reserveChunk(_ entry: inout (index: Int, count: Int)) -> Bool {
        let i = entry.index
        let prefix = sequences[i].needsPrefix
        let first = prefix ? sequences[i].virtualCount : sequences[i].cachedCount
        if prefix { entry.count = min(entry.count, sequences[i].tokens.count - first) }
        guard cache.reserve(&sequences[i].blockTable, tokens: first + entry.count) else { return false }
        if prefix {
            // Prefix tuning: the adapter's keys and values fill slots 0..<n; real tokens follow.
            model.writePrefix(of: sequences[i].adapter!.adapter, blockTable: sequences[i].blockTable, cache: cache)
            sequences[i].cachedCount = first
        }
        return true
    }

    /// `planned` reordered so rows of the same adapter (and scale) are adjacent; base rows
    /// first. Stable, so the order within a group is the order of arrival.
    private func groupedByAdapter(_ planned: [(index: Int, count: Int)]) -> [(index: Int, count: Int)] {
        var groups: [[(index: Int, count: Int)]] = [[]]
        var groupOf: [AdapterKey: Int] = [:]
        for entry in planned {
            guard let use = sequences[entry.index].adapter else { groups[0].append(entry); continue }
            let key = AdapterKey(adapter: ObjectIdentifier(use.adapter), scale: use.scale)
            if let g = groupOf[key] { groups[g].append(entry) } else {
                groupOf[key] = groups.count
                groups.append([entry])
            }
        }
        return groups.flatMap { $0 }
    }
}

/// An adapter version and scale: rows with equal keys share a segment.
private struct AdapterKey: Hashable {
    let adapter: ObjectIdentifier
    let scale: Float
}
