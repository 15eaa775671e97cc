import Adapters
import Foundation
import Llama
import ModelFormats
import Testing
import TestSupport

/// Rewrites the tensor file of the adapter in `directory` through `edit`.
func editTensors(in directory: String, _ edit: (inout [String: (shape: [Int], values: [Float])]) -> Void) throws {
    let path = directory + "/" + AdapterLoader.tensorFile
    let file = try SafetensorsFile(path: path)
    var tensors: [String: (shape: [Int], values: [Float])] = [:]
    for name in file.tensorNames { tensors[name] = (try file.info(name).shape, try file.floats(name)) }
    edit(&tensors)
    var writer = SafetensorsWriter()
    for (name, tensor) in tensors { writer.add(name, shape: tensor.shape, values: tensor.values) }
    try writer.write(to: path)
}

/// Rewrites the adapter_config.json in `directory` through `edit`.
func editConfig(in directory: String, _ edit: (inout [String: Any]) -> Void) throws {
    let path = directory + "/" + AdapterLoader.configFile
    var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    edit(&json)
    try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
}

@Suite("Adapters that do not fit are refused with a reason")
struct AdapterRefusalTests {
    let model: LlamaModel
    let scratch: TemporaryDirectory

    init() throws {
        model = try tinyModel()
        scratch = try TemporaryDirectory()
    }

    /// The error loading `directory` throws (nil if it loads).
    func refusal(_ directory: String, limits: AdapterLimits = AdapterLimits()) -> AdapterError? {
        do {
            _ = try AdapterLoader.load(directory: directory, name: "x", base: model.adapterShape, weights: model, limits: limits)
            return nil
        } catch let error as AdapterError {
            return error
        } catch {
            Issue.record("not an AdapterError: \(error)")
            return nil
        }
    }

    @Test("a pickle checkpoint (adapter_model.bin) is never unpickled")
    func pickle() throws {
        let dir = try scratch.copyOfFixture("lora")
        try FileManager.default.removeItem(atPath: dir + "/" + AdapterLoader.tensorFile)
        try Data([0x80, 0x02, 0x63]).write(to: URL(fileURLWithPath: dir + "/adapter_model.bin"))
        guard case .pickleRefused? = refusal(dir) else { Issue.record("loaded a pickle"); return }
    }

    @Test("a missing directory, config or tensor file, and a malformed config")
    func missingFiles() throws {
        guard case .notFound? = refusal(scratch.path + "/nothing") else { Issue.record("missing dir"); return }
        let noConfig = try scratch.copyOfFixture("lora", as: "no-config")
        try FileManager.default.removeItem(atPath: noConfig + "/" + AdapterLoader.configFile)
        guard case .missingFile(_, "adapter_config.json")? = refusal(noConfig) else { Issue.record("no config"); return }
        let noTensors = try scratch.copyOfFixture("lora", as: "no-tensors")
        try FileManager.default.removeItem(atPath: noTensors + "/" + AdapterLoader.tensorFile)
        guard case .missingFile(_, "adapter_model.safetensors")? = refusal(noTensors) else { Issue.record("no tensors"); return }
        let badJSON = try scratch.copyOfFixture("lora", as: "bad-json")
        try Data("{\"peft_type\": ".utf8).write(to: URL(fileURLWithPath: badJSON + "/" + AdapterLoader.configFile))
        guard case .badConfig? = refusal(badJSON) else { Issue.record("bad json"); return }
    }

    @Test("a truncated tensor file")
    func truncated() throws {
        let dir = try scratch.copyOfFixture("lora")
        let path = dir + "/" + AdapterLoader.tensorFile
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        for length in [0, 7, 100, data.count / 2, data.count - 1] {
            try data.prefix(length).write(to: URL(fileURLWithPath: path))
            guard case .badTensorFile? = refusal(dir) else { Issue.record("truncated to \(length) bytes loaded"); return }
        }
    }

    @Test("tensor shapes that do not fit the base model")
    func wrongShapes() throws {
        let dir = try scratch.copyOfFixture("lora")
        try editTensors(in: dir) { tensors in
            let key = "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"
            tensors[key] = ([48, 4], [Float](repeating: 0.1, count: 48 * 4))
        }
        guard case .baseMismatch(_, let reason)? = refusal(dir) else { Issue.record("wrong shape loaded"); return }
        #expect(reason.contains("v_proj"))
    }

    @Test("a base model of another shape (hidden size, layer count)")
    func otherBase() throws {
        var shape = model.adapterShape
        shape.hiddenSize = 32
        #expect(throws: AdapterError.self) {
            try AdapterLoader.load(directory: Fixtures.path("adapters/lora"), name: "x", base: shape, weights: model)
        }
        let prefix = try scratch.copyOfFixture("prefix")
        try editConfig(in: prefix) { $0["num_layers"] = 3 }
        guard case .baseMismatch? = refusal(prefix) else { Issue.record("prefix for 3 layers loaded"); return }
    }

    @Test("a config naming a different base model")
    func namedBase() throws {
        let dir = try scratch.copyOfFixture("lora")
        try editConfig(in: dir) { $0["base_model_name_or_path"] = "meta-llama/Llama-3.1-8B-Instruct" }
        guard case .baseMismatch? = refusal(dir) else { Issue.record("other base loaded"); return }
        try editConfig(in: dir) { $0["base_model_name_or_path"] = "/home/someone/models/tiny" }
        #expect(refusal(dir) == nil, "the same name in another folder is this base")
    }

    @Test("missing and extra tensors")
    func missingAndExtra() throws {
        let missing = try scratch.copyOfFixture("dora", as: "missing")
        try editTensors(in: missing) { $0["base_model.model.model.layers.0.mlp.up_proj.lora_magnitude_vector"] = nil }
        guard case .missingTensor? = refusal(missing) else { Issue.record("missing tensor loaded"); return }
        let extra = try scratch.copyOfFixture("lora", as: "extra")
        try editTensors(in: extra) { $0["base_model.model.lm_head.lora_A.weight"] = ([4, 64], [Float](repeating: 0, count: 256)) }
        guard case .unexpectedTensor(_, let name)? = refusal(extra) else { Issue.record("extra tensor loaded"); return }
        #expect(name.contains("lm_head"))
    }

    @Test("NaN or infinite weights", arguments: [Float.nan, .infinity])
    func nonFinite(value: Float) throws {
        let dir = try scratch.copyOfFixture("ia3")
        try editTensors(in: dir) { $0["base_model.model.model.layers.1.self_attn.k_proj.ia3_l"]!.values[3] = value }
        guard case .nonFinite(_, let tensor)? = refusal(dir) else { Issue.record("non-finite loaded"); return }
        #expect(tensor.contains("k_proj"))
    }

    @Test("a rank above the server's limit")
    func rankCap() throws {
        guard case .rankTooLarge(_, _, 8, 4)? = refusal(Fixtures.path("adapters/lora-all"), limits: AdapterLimits(maxRank: 4)) else {
            Issue.record("rank 8 passed a cap of 4"); return
        }
        #expect(refusal(Fixtures.path("adapters/lora"), limits: AdapterLimits(maxRank: 4)) == nil)
    }

    @Test("options the engine does not implement: bias, modules_to_save, foreign targets, other PEFT types",
          arguments: [
              ("bias", #""all""#), ("modules_to_save", #"["lm_head"]"#), ("target_modules", #"["q_proj", "lm_head"]"#),
              ("peft_type", #""LOHA""#), ("lora_bias", "true"), ("layer_replication", "[[0, 2]]"),
          ])
    func unsupportedOptions(field: String, json: String) throws {
        let value = try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed)
        let dir = try scratch.copyOfFixture("lora")
        try editConfig(in: dir) { $0[field] = value }
        guard case .unsupported(_, let what, _)? = refusal(dir) else { Issue.record("\(field) = \(json) loaded"); return }
        #expect(!what.isEmpty)
    }

    @Test("too many virtual tokens")
    func virtualTokenCap() throws {
        guard case .unsupported? = refusal(Fixtures.path("adapters/prompt"), limits: AdapterLimits(maxVirtualTokens: 4)) else {
            Issue.record("6 virtual tokens passed a cap of 4"); return
        }
    }

    @Test("every error names its file and says what is wrong")
    func messages() throws {
        let dir = try scratch.copyOfFixture("lora")
        try editConfig(in: dir) { $0["bias"] = "lora_only" }
        let message = refusal(dir)?.description ?? ""
        #expect(message.contains("adapter_config.json") && message.contains("bias"))
    }
}
