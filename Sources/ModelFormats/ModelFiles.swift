import Foundation

/// Opening a model path of any supported kind through one call.
public enum ModelFiles {
    /// Opens `path` as a tensor source: a directory is a safetensors checkpoint; a file starting
    /// with "GGUF" is a GGUF file; any other file is read as safetensors.
    public static func open(path: String) throws -> any TensorSource {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelFormatError.fileNotFound(file: path, referencedBy: nil)
        }
        if isDirectory.boolValue { return try SafetensorsCheckpoint(directory: path) }
        let file = try MappedFile(path: path)
        if file.size >= 4, Array(file.buffer[0..<4]) == Array("GGUF".utf8) {
            return try GGUFFile(file: file)
        }
        return try SafetensorsFile(file: file)
    }
}
