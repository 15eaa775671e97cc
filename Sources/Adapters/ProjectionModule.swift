/// The seven linear projections of a Llama block that adapters can target, in the order the
/// forward pass runs them. Raw values are the Hugging Face module names PEFT uses in its keys.
public enum ProjectionModule: String, CaseIterable, Sendable, Comparable {
    case q = "q_proj", k = "k_proj", v = "v_proj", o = "o_proj"
    case gate = "gate_proj", up = "up_proj", down = "down_proj"

    /// Position in `allCases` (used to index per-(layer, module) tables). A switch, not a
    /// search of `allCases`: the forward pass asks for it for every segment of every projection.
    @inline(__always)
    public var index: Int {
        switch self {
        case .q: return 0
        case .k: return 1
        case .v: return 2
        case .o: return 3
        case .gate: return 4
        case .up: return 5
        case .down: return 6
        }
    }

    /// Number of modules (`allCases.count`, without building the array).
    public static let count = 7

    /// The submodule holding this projection in a Hugging Face Llama layer.
    public var group: String {
        switch self {
        case .q, .k, .v, .o: return "self_attn"
        case .gate, .up, .down: return "mlp"
        }
    }

    /// The module's path in the Hugging Face model, e.g. `model.layers.3.self_attn.q_proj`.
    public func key(layer: Int) -> String { "model.layers.\(layer).\(group).\(rawValue)" }

    public static func < (a: Self, b: Self) -> Bool { a.index < b.index }
}

/// The dimensions of the base model an adapter must fit. Built by the model module from its
/// configuration; the adapters module never sees the model itself.
public struct BaseModelShape: Sendable, Equatable {
    /// Names the base is known by (GGUF `general.name`, a directory name, a Hub id): used to
    /// refuse adapters whose config names a different base. Empty when unknown.
    public var names: [String]
    public var layerCount: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var vocabularySize: Int

    /// Creates a shape.
    public init(names: [String], layerCount: Int, hiddenSize: Int, intermediateSize: Int, headCount: Int,
                kvHeadCount: Int, headDim: Int, vocabularySize: Int) {
        self.names = names
        self.layerCount = layerCount
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim
        self.vocabularySize = vocabularySize
    }

    /// Width of all query heads.
    public var queryDim: Int { headCount * headDim }
    /// Width of all key (or value) heads.
    public var kvDim: Int { kvHeadCount * headDim }

    /// Input features of `module` (W is [out, in]).
    public func inFeatures(_ module: ProjectionModule) -> Int {
        switch module {
        case .q, .k, .v, .gate, .up: return hiddenSize
        case .o: return queryDim
        case .down: return intermediateSize
        }
    }

    /// Output features of `module`.
    public func outFeatures(_ module: ProjectionModule) -> Int {
        switch module {
        case .q: return queryDim
        case .k, .v: return kvDim
        case .o, .down: return hiddenSize
        case .gate, .up: return intermediateSize
        }
    }
}

/// Read access to the base model's dense weights, for what an adapter precomputes from them
/// (DoRA's weight norms). Implemented by the model module.
public protocol BaseWeights: Sendable {
    /// W of `module` in `layer`: row-major [outFeatures, inFeatures], f32, HF row order.
    func weight(layer: Int, module: ProjectionModule) -> UnsafePointer<Float>
}
