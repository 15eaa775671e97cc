import Foundation
import Kernels
import ModelFormats

/// Limits a server puts on the adapters it accepts.
public struct AdapterLimits: Sendable, Equatable {
    /// Largest LoRA rank of any module.
    public var maxRank: Int
    /// Most virtual tokens of a prefix- or prompt-tuning adapter.
    public var maxVirtualTokens: Int

    /// Creates limits (defaults: rank 256, 512 virtual tokens).
    /// Storage of LoRA/DoRA factors. f16 halves their memory and the bytes a step reads; a
    /// module whose weights exceed binary16's range stays f32.
    public var precision: FactorPrecision

    public init(maxRank: Int = 256, maxVirtualTokens: Int = 512, precision: FactorPrecision = .f32) {
        self.maxRank = min(maxRank, LowRank.maxRank)
        self.maxVirtualTokens = maxVirtualTokens
        self.precision = precision
    }
}

/// Reads a PEFT adapter directory (adapter_config.json + adapter_model.safetensors), checks it
/// against the base model and precomputes what is constant per adapter. Runs off the serving
/// path (the registry calls it on a worker thread); the result is immutable.
public enum AdapterLoader {
    public static let configFile = "adapter_config.json"
    public static let tensorFile = "adapter_model.safetensors"
    public static let pickleFile = "adapter_model.bin"

    /// Loads the adapter in `directory` for a base of shape `base`. `weights` gives the base's
    /// dense projections (needed for DoRA); `limits` caps rank and virtual tokens.
    public static func load(directory: String, name: String, version: Int = 1, base: BaseModelShape,
                            weights: (any BaseWeights)?, limits: AdapterLimits = AdapterLimits()) throws -> Adapter {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw AdapterError.notFound(path: directory)
        }
        let configPath = directory + "/" + configFile
        guard let configData = FileManager.default.contents(atPath: configPath) else {
            throw AdapterError.missingFile(directory: directory, file: configFile)
        }
        let config = try PEFTConfig.decode(configData, file: configPath)
        let kind = try config.kind(file: configPath)
        try checkBaseName(config, base: base, file: configPath)

        let tensorPath = directory + "/" + tensorFile
        guard FileManager.default.fileExists(atPath: tensorPath) else {
            if FileManager.default.fileExists(atPath: directory + "/" + pickleFile) {
                throw AdapterError.pickleRefused(file: directory + "/" + pickleFile)
            }
            throw AdapterError.missingFile(directory: directory, file: tensorFile)
        }
        let tensors: SafetensorsFile
        do { tensors = try SafetensorsFile(path: tensorPath) } catch {
            throw AdapterError.badTensorFile(file: tensorPath, reason: "\(error)")
        }
        let reader = AdapterTensors(file: tensors)

        switch kind {
        case .lora:
            let deltas = try LowRankLoading(config: config, configPath: configPath, base: base, weights: weights,
                                            limits: limits, tensors: reader).load()
            return Adapter(name: name, version: version, kind: config.useDora == true ? .dora : .lora,
                           source: directory, deltas: deltas, prefixKV: nil, promptEmbeddings: nil, virtualTokenCount: 0)
        case .ia3:
            let deltas = try IA3Loading(config: config, configPath: configPath, base: base, tensors: reader).load()
            return Adapter(name: name, version: version, kind: .ia3, source: directory, deltas: deltas,
                           prefixKV: nil, promptEmbeddings: nil, virtualTokenCount: 0)
        case .prefixTuning, .promptTuning:
            let loaded = try VirtualTokenLoading(config: config, configPath: configPath, kind: kind, base: base,
                                                 limits: limits, tensors: reader).load()
            return Adapter(name: name, version: version, kind: kind == .prefixTuning ? .prefixTuning : .promptTuning,
                           source: directory, deltas: [], prefixKV: kind == .prefixTuning ? loaded : nil,
                           promptEmbeddings: kind == .promptTuning ? loaded : nil, virtualTokenCount: loaded.count
                               / (kind == .prefixTuning ? base.layerCount * 2 * base.kvDim : base.hiddenSize))
        }
    }

    /// Refuses a config whose `base_model_name_or_path` names a different model than the one
    /// served, when both names are known. Names compare by their letters and digits only
    /// ("HuggingFaceTB/SmolLM2-135M-Instruct" matches GGUF's "SmolLM2 135M Instruct").
    static func checkBaseName(_ config: PEFTConfig, base: BaseModelShape, file: String) throws {
        guard let named = config.baseModelNameOrPath, !named.isEmpty, !base.names.isEmpty else { return }
        let wanted = normalizedModelName(named)
        guard !wanted.isEmpty else { return }
        let known = base.names.map(normalizedModelName).filter { !$0.isEmpty }
        guard !known.isEmpty, !known.contains(wanted) else { return }
        throw AdapterError.baseMismatch(file: file, reason: "its base_model_name_or_path is '\(named)'; this server runs '\(base.names[0])'")
    }

    /// The last path component of a model name, lowercased, letters and digits only.
    public static func normalizedModelName(_ name: String) -> String {
        let last = name.split(separator: "/").last.map(String.init) ?? name
        var stem = last
        for suffix in [".gguf", ".safetensors"] where stem.lowercased().hasSuffix(suffix) { stem = String(stem.dropLast(suffix.count)) }
        return String(stem.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.map(Character.init))
    }
}

/// The tensors of an adapter file, tracked so that tensors nobody asked for are reported.
final class AdapterTensors {
    let file: SafetensorsFile
    private(set) var unused: Set<String>

    init(file: SafetensorsFile) {
        self.file = file
        unused = Set(file.tensorInfos.keys)
    }

    var path: String { file.path }

    /// Whether the file has tensor `name`.
    func has(_ name: String) -> Bool { file.tensorInfos[name] != nil }

    /// Tensor `name` as f32 in a new buffer, checked for `shape` (or any of `shapes`) and finiteness.
    func take(_ name: String, shapes: [[Int]]) throws -> FloatBuffer {
        guard let info = file.tensorInfos[name] else { throw AdapterError.missingTensor(file: path, tensor: name) }
        guard shapes.contains(info.shape) else {
            throw AdapterError.baseMismatch(file: path, reason: "tensor '\(name)' has shape \(info.shape), expected \(shapes[0])")
        }
        let buffer = FloatBuffer(count: info.elementCount)
        do {
            try file.floats(name, into: UnsafeMutableBufferPointer(start: buffer.pointer, count: buffer.count))
        } catch {
            throw AdapterError.badTensorFile(file: path, reason: "\(error)")
        }
        for i in 0..<buffer.count where !buffer.pointer[i].isFinite { throw AdapterError.nonFinite(file: path, tensor: name) }
        unused.remove(name)
        return buffer
    }

    /// How the file stores tensor `name` (F32, F16, BF16), if present.
    func storedType(_ name: String) -> GGMLType? { file.tensorInfos[name]?.type }

    /// Shape of tensor `name`, if present.
    func shape(_ name: String) -> [Int]? { file.tensorInfos[name]?.shape }

    /// Throws for the first tensor no loader consumed.
    func checkAllUsed() throws {
        if let extra = unused.sorted().first { throw AdapterError.unexpectedTensor(file: path, tensor: extra) }
    }
}
