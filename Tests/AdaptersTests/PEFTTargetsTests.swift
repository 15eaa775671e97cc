import Foundation
import Testing
import Adapters
import ModelFormats
import TestSupport

/// The linear modules of the tiny fixture model (2 layers), as PEFT names them.
let tinyModuleKeys: [String] = (0..<2).flatMap { l in
    ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
     "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"].map { "model.layers.\(l).\($0)" }
}

/// The targets rules of a fixture adapter's config.
func fixtureTargets(_ name: String) throws -> PEFTTargets {
    let file = Fixtures.path("adapters/\(name)/adapter_config.json")
    return PEFTTargets(config: try PEFTConfig.decode(Data(contentsOf: URL(fileURLWithPath: file)), file: file), file: file)
}

/// Module keys that carry a tensor with `suffix` in a fixture adapter's safetensors (PEFT's own choice).
func savedModules(_ name: String, suffix: String) throws -> [String: [Int]] {
    let file = try SafetensorsFile(path: Fixtures.path("adapters/\(name)/adapter_model.safetensors"))
    var modules: [String: [Int]] = [:]
    for (tensor, info) in file.tensorInfos where tensor.hasSuffix(suffix) {
        let key = String(tensor.dropFirst("base_model.model.".count).dropLast(suffix.count))
        modules[key] = info.shape
    }
    return modules
}

@Suite("PEFT target selection, ranks and scales agree with what PEFT itself saved")
struct PEFTTargetsTests {
    @Test("LoRA-family fixtures: the selected modules and ranks are exactly those with lora_A tensors",
          arguments: ["lora", "lora-all", "rslora", "dora"])
    func loraTargets(name: String) throws {
        let targets = try fixtureTargets(name)
        let saved = try savedModules(name, suffix: ".lora_A.weight")
        let selected = try tinyModuleKeys.filter { try targets.isTarget($0) }
        #expect(Set(selected) == Set(saved.keys))
        for key in selected { #expect(try targets.rank(key) == saved[key]?.first, "\(key)") }
    }

    @Test("rsLoRA with rank and alpha patterns: scale = alpha / √r per module")
    func rsloraScales() throws {
        let targets = try fixtureTargets("rslora")
        #expect(try targets.rank("model.layers.0.self_attn.o_proj") == 2)
        #expect(try targets.rank("model.layers.0.self_attn.q_proj") == 4)
        #expect(try targets.alpha("model.layers.1.mlp.down_proj") == 3)
        #expect(try targets.alpha("model.layers.0.mlp.down_proj") == 8)
        #expect(abs(try targets.scale("model.layers.0.self_attn.o_proj") - 8 / 2.0.squareRoot()) < 1e-12)
        #expect(abs(try targets.scale("model.layers.1.mlp.down_proj") - 3 / 2.0) < 1e-12)
        #expect(try fixtureTargets("lora").scale("model.layers.0.self_attn.q_proj") == 2)
    }

    @Test("IA³ fixture: targets are the modules with ia3_l; down_proj scales its input ([1, in]), k/v their output")
    func ia3() throws {
        let targets = try fixtureTargets("ia3")
        let saved = try savedModules("ia3", suffix: ".ia3_l")
        #expect(Set(try tinyModuleKeys.filter { try targets.isTarget($0) }) == Set(saved.keys))
        for (key, shape) in saved { #expect(try targets.isFeedForward(key) == (shape.first == 1), "\(key) \(shape)") }
    }

    @Test("a string target_modules is a regular expression over the whole key")
    func regexTargets() throws {
        var config = try fixtureTargets("lora").config
        config.targetModules = .string(#".*\.1\.self_attn\.(q|v)_proj"#)
        let targets = PEFTTargets(config: config, file: "test")
        #expect(try tinyModuleKeys.filter { try targets.isTarget($0) } == ["model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"])
        config.targetModules = .string("q_proj")   // not a full match of any key
        #expect(try tinyModuleKeys.filter { try PEFTTargets(config: config, file: "test").isTarget($0) }.isEmpty)
    }

    @Test("layers_to_transform (with and without layers_pattern) and exclude_modules narrow the selection")
    func layerAndExclusion() throws {
        var config = try fixtureTargets("lora").config   // q_proj, v_proj
        config.layersToTransform = .list([1])
        #expect(try tinyModuleKeys.filter { try PEFTTargets(config: config, file: "t").isTarget($0) }
                == ["model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"])
        config.layersPattern = .string("layers")
        config.layersToTransform = .one(0)
        #expect(try tinyModuleKeys.filter { try PEFTTargets(config: config, file: "t").isTarget($0) }
                == ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj"])
        config.layersToTransform = nil
        config.excludeModules = .list(["v_proj"])
        #expect(try tinyModuleKeys.filter { try PEFTTargets(config: config, file: "t").isTarget($0) }
                == ["model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.q_proj"])
    }

    @Test("unknown adapter kinds, malformed JSON and invalid patterns are refused with the file named")
    func refusals() throws {
        let config = try PEFTConfig.decode(Data(#"{"peft_type": "LOHA", "r": 4}"#.utf8), file: "a.json")
        #expect(throws: AdapterError.self) { try config.kind(file: "a.json") }
        #expect(throws: AdapterError.self) { try PEFTConfig.decode(Data("{not json".utf8), file: "b.json") }
        var bad = try fixtureTargets("lora").config
        bad.targetModules = .string("(unclosed")
        #expect(throws: AdapterError.self) { try PEFTTargets(config: bad, file: "c.json").isTarget("model.layers.0.self_attn.q_proj") }
        #expect(try fixtureTargets("prefix").config.kind(file: "p") == .prefixTuning)
        #expect(try fixtureTargets("prompt").config.kind(file: "p") == .promptTuning)
    }
}
