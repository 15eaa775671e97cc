import Foundation
import Testing
import Llama
import TestSupport

@Suite("Models that don't fit are refused with a reason")
struct LoadErrorTests {
    @Test("a path that is neither a GGUF file nor a model directory is refused")
    func notAModel() {
        #expect(throws: (any Error).self) { try LlamaModel.load(path: "/nonexistent/model.gguf") }
    }

    @Test("a config whose sizes disagree with the tensors names the tensor and both shapes")
    func wrongShape() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("llama-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = try String(contentsOfFile: Fixtures.path("tiny/config.json"), encoding: .utf8)
        config = config.replacingOccurrences(of: "\"intermediate_size\": 160", with: "\"intermediate_size\": 128")
        try config.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: Fixtures.path("tiny/model.safetensors"),
                                         toPath: dir.appendingPathComponent("model.safetensors").path)
        do {
            _ = try LlamaModel.load(path: dir.path)
            Issue.record("expected a shape error")
        } catch let error as LlamaError {
            guard case let .wrongShape(_, tensor, expected, found) = error else { Issue.record("\(error)"); return }
            #expect(tensor.contains("gate_proj") && expected == [128, 64] && found == [160, 64])
        }
    }
}
