import Kernels

/// What kind of PEFT adapter a loaded adapter is.
public enum AdapterKind: String, Sendable, Equatable, CaseIterable {
    case lora, dora, ia3
    case prefixTuning = "prefix_tuning"
    case promptTuning = "prompt_tuning"
}

/// A LoRA (or DoRA) delta on one projection: y += scale · (x·Aᵀ)·Bᵀ, and for DoRA
/// y ← g ⊙ (x·Wᵀ + scale · (x·Aᵀ)·Bᵀ).
public final class LowRankDelta: Sendable {
    public let rank: Int
    public let inFeatures: Int
    public let outFeatures: Int
    /// A: [rank, inFeatures].
    public let a: LowRankFactor
    /// Bᵀ: [rank, outFeatures] (transposed at load: the expand kernel streams rows of it).
    /// For DoRA its columns are already multiplied by the gain g. Same precision as A.
    public let bTransposed: LowRankFactor
    /// alpha / r, or alpha / √r with rsLoRA.
    public let scale: Float
    /// DoRA's g = m / ‖W + scale·B·A‖ per output row, computed once at load; nil for LoRA.
    public let doraGain: FloatBuffer?

    init(rank: Int, inFeatures: Int, outFeatures: Int, a: LowRankFactor, bTransposed: LowRankFactor, scale: Float,
         doraGain: FloatBuffer?) {
        self.rank = rank
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.a = a
        self.bTransposed = bTransposed
        self.scale = scale
        self.doraGain = doraGain
    }

    var byteCount: Int { a.byteCount + bTransposed.byteCount + (doraGain?.byteCount ?? 0) }
}

/// An IA³ vector on one projection: y = (x·Wᵀ) ⊙ l, or y = (x ⊙ l)·Wᵀ for feed-forward modules.
public final class IA3Scaling: Sendable {
    /// l: [outFeatures], or [inFeatures] when `scalesInput`.
    public let vector: FloatBuffer
    /// Whether l scales the projection's input (PEFT's feedforward_modules) instead of its output.
    public let scalesInput: Bool

    init(vector: FloatBuffer, scalesInput: Bool) {
        self.vector = vector
        self.scalesInput = scalesInput
    }
}

/// The change one adapter makes to one projection.
public enum ModuleDelta: Sendable {
    case lowRank(LowRankDelta)
    case ia3(IA3Scaling)
}

/// One (layer, module) delta as the forward pass reads it every step: plain values and pointers
/// into buffers its adapter owns, so the per-step loops over segments do no reference counting.
/// Valid while the adapter is alive (the step's segments keep it so).
public struct DeltaEntry: @unchecked Sendable {
    public enum Kind: UInt8, Sendable {
        case none, lowRank, ia3Output, ia3Input
    }
    public let kind: Kind
    /// LoRA/DoRA: rank, A [rank, inFeatures] and Bᵀ [rank, outFeatures] (stored at `precision`).
    public let rank: Int
    public let inFeatures: Int
    public let outFeatures: Int
    public let a: UnsafeRawPointer?
    public let bTransposed: UnsafeRawPointer?
    public let precision: FactorPrecision
    public let scale: Float
    /// DoRA's gain g [outFeatures]; nil for LoRA.
    public let gain: UnsafePointer<Float>?
    /// IA³: l [vectorCount].
    public let vector: UnsafePointer<Float>?
    public let vectorCount: Int

    /// No delta on this module.
    public static let none = DeltaEntry(kind: .none)

    init(kind: Kind, rank: Int = 0, inFeatures: Int = 0, outFeatures: Int = 0, a: UnsafeRawPointer? = nil,
         bTransposed: UnsafeRawPointer? = nil, precision: FactorPrecision = .f32, scale: Float = 0, gain: UnsafePointer<Float>? = nil,
         vector: UnsafePointer<Float>? = nil, vectorCount: Int = 0) {
        self.kind = kind
        self.rank = rank
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.a = a
        self.bTransposed = bTransposed
        self.precision = precision
        self.scale = scale
        self.gain = gain
        self.vector = vector
        self.vectorCount = vectorCount
    }

    init(_ delta: ModuleDelta?) {
        switch delta {
        case .lowRank(let d)?:
            self.init(kind: .lowRank, rank: d.rank, inFeatures: d.inFeatures, outFeatures: d.outFeatures, a: d.a.pointer,
                      bTransposed: d.bTransposed.pointer, precision: d.a.precision, scale: d.scale,
                      gain: d.doraGain.map { UnsafePointer($0.pointer) })
        case .ia3(let s)?:
            self.init(kind: s.scalesInput ? .ia3Input : .ia3Output, vector: UnsafePointer(s.vector.pointer),
                      vectorCount: s.vector.count)
        case nil:
            self.init(kind: .none)
        }
    }
}

/// A loaded adapter: immutable once built, shared by every request that uses this version.
/// Deltas are looked up by (layer, module); prefix and prompt tuning carry their virtual tokens.
public final class Adapter: Sendable, CustomStringConvertible {
    /// Serving name (what a request's `model` field names).
    public let name: String
    /// Increases each time the name is loaded again (hot-swap).
    public let version: Int
    public let kind: AdapterKind
    /// Directory it was loaded from.
    public let source: String
    /// Largest LoRA rank (0 for other kinds).
    public let rank: Int
    /// Bytes held by its tensors.
    public let byteCount: Int
    /// deltas[layer * ProjectionModule.count + module.index].
    private let deltas: [ModuleDelta?]
    /// The same deltas as `DeltaEntry` values (pointers into the buffers `deltas` owns).
    /// Written once in init, read-only after, freed in deinit.
    nonisolated(unsafe) private let entries: UnsafeMutablePointer<DeltaEntry>
    /// Whether the adapter changes any projection weights' products (LoRA, DoRA, IA³).
    public let hasModuleDeltas: Bool
    /// Prefix tuning: [virtualTokens, layers · 2 · kvDim]; layer L's keys at columns
    /// [2L·kvDim, (2L+1)·kvDim), its values right after. Written un-rotated into cache slots 0..<n.
    public let prefixKV: FloatBuffer?
    /// Prompt tuning: [virtualTokens, hidden], the input embeddings of positions 0..<n.
    public let promptEmbeddings: FloatBuffer?
    /// Virtual tokens in front of every prompt (prefix or prompt tuning), else 0.
    public let virtualTokenCount: Int

    init(name: String, version: Int, kind: AdapterKind, source: String, deltas: [ModuleDelta?],
         prefixKV: FloatBuffer?, promptEmbeddings: FloatBuffer?, virtualTokenCount: Int) {
        self.name = name
        self.version = version
        self.kind = kind
        self.source = source
        self.deltas = deltas
        entries = .allocate(capacity: max(deltas.count, 1))
        entries.initialize(repeating: .none, count: max(deltas.count, 1))
        for (index, delta) in deltas.enumerated() { entries[index] = DeltaEntry(delta) }
        hasModuleDeltas = deltas.contains { $0 != nil }
        self.prefixKV = prefixKV
        self.promptEmbeddings = promptEmbeddings
        self.virtualTokenCount = virtualTokenCount
        var bytes = (prefixKV?.byteCount ?? 0) + (promptEmbeddings?.byteCount ?? 0)
        var maxRank = 0
        for delta in deltas {
            switch delta {
            case .lowRank(let d)?: bytes += d.byteCount; maxRank = max(maxRank, d.rank)
            case .ia3(let s)?: bytes += s.vector.byteCount
            case nil: break
            }
        }
        byteCount = bytes
        rank = maxRank
    }

    // Unloaded or replaced versions are freed when their last request ends; hand their memory back.
    deinit {
        entries.deallocate()
        MemoryReclaimer.releaseSoon()
    }

    /// The delta on `module` of `layer`, if the adapter changes it.
    @inline(__always)
    public func delta(layer: Int, module: ProjectionModule) -> ModuleDelta? {
        let index = layer * ProjectionModule.count + module.index
        return index < deltas.count ? deltas[index] : nil
    }

    /// How its LoRA/DoRA factors are stored (empty for other kinds), in `FactorPrecision` order.
    public var factorPrecisions: [FactorPrecision] {
        let used = Set(deltas.compactMap { delta -> FactorPrecision? in
            if case .lowRank(let d)? = delta { return d.a.precision }
            return nil
        })
        return FactorPrecision.allCases.filter(used.contains)
    }

    /// Whether the adapter changes `module` of `layer`.
    public func changes(layer: Int, module: ProjectionModule) -> Bool { delta(layer: layer, module: module) != nil }

    /// The per-(layer, module) entries, for the forward pass: `entries[layer · ProjectionModule.count
    /// + module.index]`, `deltaTableCount` of them. Valid while this adapter is alive.
    public var deltaTable: UnsafePointer<DeltaEntry> { UnsafePointer(entries) }
    public var deltaTableCount: Int { deltas.count }

    public var description: String { "\(name)@v\(version) (\(kind.rawValue))" }
}
