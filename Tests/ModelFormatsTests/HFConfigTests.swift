import Foundation
import Testing
import ModelFormats

@Suite("HF config.json")
struct HFConfigTests {
    private func decode(_ json: String) throws -> HFConfig {
        try HFConfig.decode(Data(json.utf8), file: "test/config.json")
    }

    /// A minimal valid config with `extra` fields spliced in (later keys are not allowed to repeat).
    private func minimal(_ extra: String = "") -> String {
        """
        {"model_type": "llama", "vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
         "num_hidden_layers": 2, "num_attention_heads": 4, "rms_norm_eps": 1e-6\(extra.isEmpty ? "" : ", " + extra)}
        """
    }

    @Test("the tiny fixture's config decodes with Swift names")
    func tinyFixture() throws {
        let config = try HFConfig.load(directory: Repository.fixture("tiny"))
        #expect(config.modelType == "llama")
        #expect(config.architectures == ["LlamaForCausalLM"])
        #expect(config.vocabSize == 256)
        #expect(config.hiddenSize == 64)
        #expect(config.intermediateSize == 160)
        #expect(config.layerCount == 2)
        #expect(config.attentionHeads == 4)
        #expect(config.kvHeads == 2)
        #expect(config.headDim == 16)
        #expect(config.resolvedHeadDim == 16)
        #expect(config.rmsNormEps == 1e-5)
        #expect(config.ropeTheta == 10000)
        #expect(config.ropeScaling == nil)
        #expect(config.maxPositionEmbeddings == 512)
        #expect(config.tieWordEmbeddings == false)
        #expect(config.bosTokenIDs == [])
        #expect(config.eosTokenIDs == [])
    }

    @Test("llama3 rope scaling and tied embeddings are read from the rope-scaled fixture")
    func ropeScaledFixture() throws {
        let config = try HFConfig.load(directory: Repository.fixture("tiny-rope-scaled"))
        #expect(config.ropeTheta == 500000)
        #expect(config.tieWordEmbeddings)
        let scaling = try #require(config.ropeScaling)
        #expect(scaling.ropeType == "llama3")
        #expect(scaling.factor == 8)
        #expect(scaling.lowFreqFactor == 1)
        #expect(scaling.highFreqFactor == 4)
        #expect(scaling.originalMaxPositionEmbeddings == 64)
    }

    @Test("defaults: kv heads = heads, head_dim = hidden / heads, theta 10000, untied, no scaling")
    func defaults() throws {
        let config = try decode(minimal())
        #expect(config.kvHeads == 4)
        #expect(config.headDim == nil)
        #expect(config.resolvedHeadDim == 16)
        #expect(config.ropeTheta == 10000)
        #expect(config.tieWordEmbeddings == false)
        #expect(config.ropeScaling == nil)
        #expect(config.maxPositionEmbeddings == 2048)
        #expect(config.hiddenAct == "silu")
    }

    @Test("token ids may be a number, a list or null")
    func tokenIDs() throws {
        #expect(try decode(minimal("\"bos_token_id\": 1, \"eos_token_id\": [2, 3]")).bosTokenIDs == [1])
        #expect(try decode(minimal("\"bos_token_id\": 1, \"eos_token_id\": [2, 3]")).eosTokenIDs == [2, 3])
        #expect(try decode(minimal("\"eos_token_id\": null")).eosTokenIDs == [])
    }

    @Test("transformers 5 rope_parameters supply theta and scaling when the legacy keys are absent")
    func ropeParameters() throws {
        let config = try decode(minimal("""
            "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
             "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
            """))
        #expect(config.ropeTheta == 500000)
        #expect(config.ropeScaling?.ropeType == "llama3")
        #expect(config.ropeScaling?.factor == 32)
        #expect(config.ropeScaling?.originalMaxPositionEmbeddings == 8192)
        let plain = try decode(minimal("\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 100000.0}"))
        #expect(plain.ropeTheta == 100000)
        #expect(plain.ropeScaling == nil)
        let legacy = try decode(minimal("\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}"))
        #expect(legacy.ropeScaling?.ropeType == "linear")
    }

    @Test("invalid or missing values are badConfig naming the file and key")
    func invalid() throws {
        let cases = [
            "{}",
            minimal("\"num_key_value_heads\": 3"),
            minimal("\"head_dim\": 0"),
            minimal().replacingOccurrences(of: "\"hidden_size\": 64", with: "\"hidden_size\": -64"),
            minimal().replacingOccurrences(of: "\"hidden_size\": 64", with: "\"hidden_size\": 66"),
            minimal("\"rope_theta\": \"big\""),
            "not json",
        ]
        for json in cases {
            let error = formatError { try decode(json) }
            #expect(error?.kind == "badConfig", "\(json)")
            #expect(error?.description.hasPrefix("test/config.json") == true)
        }
        let heads = formatError { try decode(minimal("\"num_key_value_heads\": 3")) }
        #expect(heads?.description.contains("num_key_value_heads") == true)
    }

    @Test("a directory without config.json is fileNotFound")
    func missingFile() throws {
        let directory = try TemporaryDirectory()
        #expect(formatError { try HFConfig.load(directory: directory.url.path) }?.kind == "fileNotFound")
    }
}
