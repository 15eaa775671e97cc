import Foundation
import Kernels
import Testing
import ModelFormats

/// The tiny Llama fixture written three ways (safetensors, GGUF f32, GGUF f16) must agree.
@Suite("tiny model fixtures")
struct TinyModelFixtureTests {
    static let heads = 4, kvHeads = 2, layers = 2

    /// GGUF name → (HF name, head count when llama.cpp permuted its rows for adjacent-pair RoPE).
    static let nameMap: [String: (hf: String, permutedHeads: Int?)] = {
        var map: [String: (String, Int?)] = [
            "token_embd.weight": ("model.embed_tokens.weight", nil),
            "output_norm.weight": ("model.norm.weight", nil),
            "output.weight": ("lm_head.weight", nil),
        ]
        for layer in 0..<layers {
            let hf = "model.layers.\(layer)."
            let gguf = "blk.\(layer)."
            map[gguf + "attn_norm.weight"] = (hf + "input_layernorm.weight", nil)
            map[gguf + "attn_q.weight"] = (hf + "self_attn.q_proj.weight", heads)
            map[gguf + "attn_k.weight"] = (hf + "self_attn.k_proj.weight", kvHeads)
            map[gguf + "attn_v.weight"] = (hf + "self_attn.v_proj.weight", nil)
            map[gguf + "attn_output.weight"] = (hf + "self_attn.o_proj.weight", nil)
            map[gguf + "ffn_norm.weight"] = (hf + "post_attention_layernorm.weight", nil)
            map[gguf + "ffn_gate.weight"] = (hf + "mlp.gate_proj.weight", nil)
            map[gguf + "ffn_up.weight"] = (hf + "mlp.up_proj.weight", nil)
            map[gguf + "ffn_down.weight"] = (hf + "mlp.down_proj.weight", nil)
        }
        return map
    }()

    /// HF row order from GGUF's: within each head, GGUF row 2j+p holds HF row (headDim/2)·p + j.
    static func unpermuteRows(_ values: [Float], shape: [Int], heads: Int) -> [Float] {
        let rows = shape[0], columns = shape[1], headDim = rows / heads, half = headDim / 2
        var out = [Float](repeating: .nan, count: values.count)
        for head in 0..<heads {
            for j in 0..<half {
                for p in 0..<2 {
                    let ggufRow = head * headDim + 2 * j + p
                    let hfRow = head * headDim + half * p + j
                    for c in 0..<columns { out[hfRow * columns + c] = values[ggufRow * columns + c] }
                }
            }
        }
        return out
    }

    @Test("GGUF tensors have the HF shapes (reversed ne) and, un-permuted, the safetensors floats (f16 file: rounded to f16)",
          arguments: ["model-f32.gguf", "model-f16.gguf"])
    func ggufMatchesSafetensors(fileName: String) throws {
        let gguf = try GGUFFile(path: Repository.fixture("tiny/\(fileName)"))
        let reference = try SafetensorsFile(path: Repository.fixture("tiny/model.safetensors"))
        let isF16 = fileName.contains("f16")
        #expect(gguf.metadata["general.architecture"]?.string == "llama")
        #expect(gguf.metadata["llama.block_count"]?.int == Self.layers)
        #expect(Set(gguf.tensorInfos.keys) == Set(Self.nameMap.keys))
        #expect(reference.tensorInfos.count == Self.nameMap.count)

        for (ggufName, target) in Self.nameMap {
            let info = try gguf.info(ggufName)
            let hfShape = try reference.info(target.hf).shape
            #expect(info.shape == hfShape, "\(ggufName)")
            #expect(info.type == (isF16 && hfShape.count == 2 ? .f16 : .f32), "\(ggufName)")

            var values = try gguf.floats(ggufName)
            if let heads = target.permutedHeads { values = Self.unpermuteRows(values, shape: info.shape, heads: heads) }
            var expected = try reference.floats(target.hf)
            if info.type == .f16 { expected = expected.map { Float(Float16($0)) } }
            #expect(values == expected, "\(ggufName)")
        }
    }
}
