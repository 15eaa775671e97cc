import Foundation

/// A Hugging Face checkpoint directory: either one `model.safetensors`, or shards listed by
/// `model.safetensors.index.json` ({"weight_map": {tensor name: shard file name}}).
///
/// When both exist, `model.safetensors` wins, as in transformers.
/// Every shard is mapped and validated at init, and every tensor the index names must be in its
/// shard, so a missing or incomplete shard is reported at load rather than at first use.
public final class SafetensorsCheckpoint: TensorSource {
    /// The single-file checkpoint's name.
    public static let singleFileName = "model.safetensors"
    /// The sharded checkpoint's index name.
    public static let indexFileName = "model.safetensors.index.json"

    /// The checkpoint directory.
    public let path: String
    /// Every tensor of every shard named by the checkpoint, by name (offsets are within its shard).
    public let tensorInfos: [String: TensorInfo]
    /// The opened files, by file name (one entry for a single-file checkpoint).
    public let shards: [String: SafetensorsFile]
    /// Which shard (file name) holds each tensor.
    public let shardOfTensor: [String: String]

    /// Opens the checkpoint in `directory`; throws `fileNotFound` when it holds neither file.
    public init(directory: String) throws {
        path = directory
        let single = (directory as NSString).appendingPathComponent(Self.singleFileName)
        let index = (directory as NSString).appendingPathComponent(Self.indexFileName)
        if FileManager.default.fileExists(atPath: single) {
            let file = try SafetensorsFile(path: single)
            shards = [Self.singleFileName: file]
            tensorInfos = file.tensorInfos
            shardOfTensor = file.tensorInfos.mapValues { _ in Self.singleFileName }
        } else if FileManager.default.fileExists(atPath: index) {
            let weightMap = try Self.readWeightMap(index)
            var opened: [String: SafetensorsFile] = [:]
            var infos: [String: TensorInfo] = [:]
            for (tensor, shardName) in weightMap {
                let shard: SafetensorsFile
                if let existing = opened[shardName] {
                    shard = existing
                } else {
                    let shardPath = (directory as NSString).appendingPathComponent(shardName)
                    guard FileManager.default.fileExists(atPath: shardPath) else {
                        throw ModelFormatError.fileNotFound(file: shardPath, referencedBy: index)
                    }
                    shard = try SafetensorsFile(path: shardPath)
                    opened[shardName] = shard
                }
                guard let info = shard.tensorInfos[tensor] else {
                    throw ModelFormatError.missingTensor(file: shard.path, tensor: tensor)
                }
                infos[tensor] = info
            }
            shards = opened
            tensorInfos = infos
            shardOfTensor = weightMap
        } else {
            throw ModelFormatError.fileNotFound(file: single, referencedBy: nil)
        }
    }

    /// The raw bytes of tensor `name`, from its shard.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        guard let shardName = shardOfTensor[name], let shard = shards[shardName] else {
            throw ModelFormatError.missingTensor(file: path, tensor: name)
        }
        return try shard.rawBytes(name)
    }

    private struct Index: Decodable {
        let weightMap: [String: String]
        enum CodingKeys: String, CodingKey { case weightMap = "weight_map" }
    }

    /// Reads the index's weight map; shard names must be plain file names in the same directory.
    private static func readWeightMap(_ indexPath: String) throws -> [String: String] {
        let mapped = try MappedFile(path: indexPath)
        let index: Index
        do {
            index = try JSONDecoder().decode(Index.self, from: Data(mapped.buffer))
        } catch let error as DecodingError {
            throw ModelFormatError.badJSONHeader(file: indexPath, reason: describe(error))
        } catch {
            throw ModelFormatError.badJSONHeader(file: indexPath, reason: "\(error)")
        }
        for (tensor, shard) in index.weightMap where shard.isEmpty || shard.contains("/") || shard == ".." {
            throw ModelFormatError.badJSONHeader(
                file: indexPath, reason: "tensor '\(tensor)' names shard '\(shard)', which is not a file name in this directory")
        }
        return index.weightMap
    }
}
