import Foundation

/// Builds the swapper's adapter list from a directory or from `name=path[,path…]` arguments.
public enum SwapTargets {
    /// One target per subdirectory of `directory` (its name is the adapter name).
    ///
    /// A subdirectory that holds no `adapter_config.json` but has subdirectories of its own is
    /// read as a set of versions (`dir/name/v1`, `dir/name/v2`…, in name order), which replaces
    /// cycle through. Paths are absolute because the server resolves them on its side.
    public static func fromDirectory(_ directory: String) throws(ConfigError) -> [SwapTarget] {
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path
        let names = try subdirectories(of: root)
        guard !names.isEmpty else { throw .file(path: root, reason: "no adapter subdirectories") }
        var targets: [SwapTarget] = []
        for name in names {
            let path = root + "/" + name
            let hasConfig = FileManager.default.fileExists(atPath: path + "/adapter_config.json")
            let versions = hasConfig ? [] : try subdirectories(of: path)
            targets.append(SwapTarget(name: name, versions: versions.isEmpty ? [path] : versions.map { path + "/" + $0 }))
        }
        return targets
    }

    /// Parses `name=path` or `name=path1,path2` (versions for replaces to cycle through).
    public static func parse(_ argument: String) throws(ConfigError) -> SwapTarget {
        let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty else {
            throw .invalidValue(option: "--swap-adapter", value: argument, reason: "use NAME=PATH[,PATH…]")
        }
        let versions = parts[1].split(separator: ",").map(String.init).filter { !$0.isEmpty }
        guard !versions.isEmpty else { throw .invalidValue(option: "--swap-adapter", value: argument, reason: "no path") }
        return SwapTarget(name: parts[0], versions: versions)
    }

    private static func subdirectories(of path: String) throws(ConfigError) -> [String] {
        let entries: [String]
        do { entries = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw .file(path: path, reason: "cannot list directory")
        }
        return entries.filter { entry in
            var isDirectory: ObjCBool = false
            return !entry.hasPrefix(".") && FileManager.default.fileExists(atPath: path + "/" + entry, isDirectory: &isDirectory)
                && isDirectory.boolValue
        }.sorted()
    }
}

/// Small read-only calls to the server: health and the served models.
public enum ServerAPI {
    /// Whether `GET /health` answers 2xx.
    public static func isHealthy(_ client: HTTPClient, timeoutSeconds: Double = 5) -> Bool {
        guard let response = try? client.fetch(HTTPRequest(method: "GET", path: "/health"), timeoutSeconds: timeoutSeconds) else {
            return false
        }
        return (200..<300).contains(response.head.status)
    }

    /// The `id`s listed by `GET /v1/models`, base model first as the server lists it.
    public static func modelIDs(_ client: HTTPClient, timeoutSeconds: Double = 10) throws(HTTPClientError) -> [String] {
        let response = try client.fetch(HTTPRequest(method: "GET", path: "/v1/models"), timeoutSeconds: timeoutSeconds)
        guard (200..<300).contains(response.head.status),
              let list = OpenAIProtocol.decode(OpenAIProtocol.ModelList.self, from: response.body) else {
            throw .receive("GET /v1/models answered \(response.head.status) with no model list")
        }
        return list.data.map(\.id)
    }
}
