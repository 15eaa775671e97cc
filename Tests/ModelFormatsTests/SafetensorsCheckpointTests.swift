import Foundation
import Testing
import ModelFormats

@Suite("safetensors checkpoints")
struct SafetensorsCheckpointTests {
    @Test("the sharded tiny checkpoint holds exactly the single-file tensors, with identical floats")
    func shardedMatchesSingle() throws {
        let single = try SafetensorsCheckpoint(directory: Repository.fixture("tiny"))
        let sharded = try SafetensorsCheckpoint(directory: Repository.fixture("tiny-sharded"))
        #expect(single.shards.count == 1)
        #expect(sharded.shards.count == 3)
        #expect(single.tensorNames == sharded.tensorNames)
        #expect(single.tensorInfos.count == 21)  // embed + 2 × 9 per layer + norm + lm_head
        for name in single.tensorNames {
            #expect(try single.info(name).shape == sharded.info(name).shape, "\(name)")
            #expect(try single.floats(name) == sharded.floats(name), "\(name)")
        }
        #expect(try single.info("model.layers.0.self_attn.k_proj.weight").shape == [32, 64])
    }

    @Test("a directory with neither model.safetensors nor an index is fileNotFound")
    func emptyDirectory() throws {
        let directory = try TemporaryDirectory()
        #expect(formatError { try SafetensorsCheckpoint(directory: directory.url.path) }?.kind == "fileNotFound")
    }

    @Test("an index naming a missing shard is fileNotFound naming the shard and the index")
    func missingShard() throws {
        let directory = try TemporaryDirectory()
        try directory.write(SafetensorsBuilder.file(tensors: [("a", [1], [1])]), to: "model-1.safetensors")
        let index = try directory.write(
            "{\"metadata\": {}, \"weight_map\": {\"a\": \"model-1.safetensors\", \"b\": \"model-2.safetensors\"}}",
            to: SafetensorsCheckpoint.indexFileName)
        let shard = directory.url.appendingPathComponent("model-2.safetensors").path
        #expect(formatError { try SafetensorsCheckpoint(directory: directory.url.path) }
            == .fileNotFound(file: shard, referencedBy: index))
    }

    @Test("an index naming a tensor its shard lacks is missingTensor naming the shard")
    func tensorNotInShard() throws {
        let directory = try TemporaryDirectory()
        let shard = try directory.write(SafetensorsBuilder.file(tensors: [("a", [1], [1])]), to: "model-1.safetensors")
        try directory.write("{\"weight_map\": {\"zzz\": \"model-1.safetensors\"}}", to: SafetensorsCheckpoint.indexFileName)
        #expect(formatError { try SafetensorsCheckpoint(directory: directory.url.path) }
            == .missingTensor(file: shard, tensor: "zzz"))
    }

    @Test("an index that is not valid JSON, or names a shard outside the directory, is badJSONHeader")
    func badIndex() throws {
        for text in ["{\"weight_map\": 3}", "nope", "{\"weight_map\": {\"a\": \"../x.safetensors\"}}"] {
            let directory = try TemporaryDirectory()
            try directory.write(text, to: SafetensorsCheckpoint.indexFileName)
            #expect(formatError { try SafetensorsCheckpoint(directory: directory.url.path) }?.kind == "badJSONHeader", "\(text)")
        }
    }

    @Test("ModelFiles.open reads a directory as a checkpoint")
    func opensDirectory() throws {
        let source = try ModelFiles.open(path: Repository.fixture("tiny-sharded"))
        #expect(source is SafetensorsCheckpoint)
        #expect(source.tensorInfos.count == 21)
    }
}
