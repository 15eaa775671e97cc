import Adapters
import Engine
import Foundation
import HTTPServer
import Logging

/// Loads, replaces and unloads adapters while the server runs: for the admin API, the
/// directory watch and reloads after eviction. Loading (file reads, checks, DoRA norms) runs
/// on libuv's thread pool; the new version is published in the registry only once it has
/// passed every check, so a rejected adapter leaves the old version serving.
/// Loop-thread confined.
final class AdapterManager {
    let registry: AdapterRegistry
    private let bundle: ModelBundle
    private let limits: AdapterLimits
    private let logger: Logger
    /// Folders adapters may be loaded from (their real paths).
    private let roots: [String]
    /// Runs blocking work off the loop; set when the loop exists.
    var runBlocking: ((@escaping @Sendable () -> Result<Adapter, Error>, @escaping (Result<Adapter, Error>) -> Void) -> Void)?
    /// Loads in progress by name: later requests for the same name wait for the same load.
    private var pending: [String: [(Result<Adapter, Error>) -> Void]] = [:]

    init(registry: AdapterRegistry, bundle: ModelBundle, roots: [String], limits: AdapterLimits, logger: Logger) {
        self.registry = registry
        self.bundle = bundle
        self.limits = limits
        self.logger = logger
        self.roots = roots.compactMap { AdapterManager.realPath($0) }
    }

    /// Loads the adapter at `path` under `name` (a new version if the name exists), then calls
    /// `completion` on the loop thread.
    func load(name: String, path: String, origin: AdapterOrigin, completion: @escaping (Result<Adapter, Error>) -> Void) {
        guard Self.isValidName(name) else {
            completion(.failure(APIError.invalidRequest(
                message: "Adapter names are 1-128 letters, digits, '.', '_', '-' or '/' and must not be the base model's.", param: "name")))
            return
        }
        let resolved: String
        switch checkedPath(path) {
        case .failure(let error): completion(.failure(error)); return
        case .success(let real): resolved = real
        }
        if pending[name] != nil { pending[name]!.append(completion); return }
        pending[name] = [completion]
        let bundle = self.bundle, limits = self.limits, version = registry.makeVersion()
        let start = monotonicSeconds()
        let work: @Sendable () -> Result<Adapter, Error> = {
            Result { try bundle.loadAdapter(directory: resolved, name: name, version: version, limits: limits) }
        }
        let finish: (Result<Adapter, Error>) -> Void = { [self] result in
            let seconds = monotonicSeconds() - start
            switch result {
            case .success(let adapter):
                let evicted = registry.install(adapter, origin: origin, signature: Self.signature(of: resolved), loadSeconds: seconds)
                logger.info("adapter loaded", metadata: [
                    "name": "\(name)", "version": "\(adapter.version)", "kind": "\(adapter.kind.rawValue)", "rank": "\(adapter.rank)",
                    "bytes": "\(adapter.byteCount)", "ms": "\(String(format: "%.1f", seconds * 1000))", "source": "\(resolved)",
                    "evicted": "\(evicted.joined(separator: ","))"])
            case .failure(let error):
                logger.warning("adapter rejected", metadata: ["name": "\(name)", "source": "\(resolved)", "reason": "\(error)"])
            }
            for waiter in pending.removeValue(forKey: name) ?? [] { waiter(result) }
        }
        if let runBlocking { runBlocking(work, finish) } else { finish(work()) }
    }

    /// Loads every adapter folder of `directory` synchronously (at start, before serving); a
    /// folder that does not load is logged with its reason and skipped.
    func loadDirectoryNow(_ directory: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names.sorted() where FileManager.default.fileExists(atPath: "\(directory)/\(name)/\(AdapterLoader.configFile)") {
            load(name: name, path: "\(directory)/\(name)", origin: .directory) { _ in }
        }
    }

    /// Reloads an evicted adapter from where it came from.
    func reload(name: String, completion: @escaping (Result<Adapter, Error>) -> Void) {
        guard let entry = registry.entry(name) else { completion(.failure(APIError.modelNotFound(name))); return }
        load(name: name, path: entry.source, origin: entry.origin, completion: completion)
    }

    /// Unloads `name`; false if unknown.
    func unload(name: String) -> Bool {
        guard let entry = registry.remove(name) else { return false }
        logger.info("adapter unloaded", metadata: ["name": "\(name)", "version": "\(entry.version)"])
        return true
    }

    // MARK: - Paths

    /// `path` made absolute with symlinks resolved, if it lies inside an adapter root.
    func checkedPath(_ path: String) -> Result<String, APIError> {
        guard let real = Self.realPath(path) else {
            return .failure(.adapterRejected(message: "\(path): no such adapter directory"))
        }
        guard roots.contains(where: { real == $0 || real.hasPrefix($0 + "/") }) else {
            return .failure(.invalidRequest(
                message: "\(path) is outside the adapter roots (\(roots.joined(separator: ", "))); adapters load only from there.",
                param: "path"))
        }
        return .success(real)
    }

    /// Absolute path with every symlink and `..` resolved, or nil if it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Modification times and sizes of an adapter folder's files: changes when a file is rewritten.
    static func signature(of directory: String) -> String {
        [AdapterLoader.configFile, AdapterLoader.tensorFile].map { file in
            let attributes = try? FileManager.default.attributesOfItem(atPath: directory + "/" + file)
            let date = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            let size = attributes?[.size] as? Int ?? -1
            return "\(date):\(size)"
        }.joined(separator: "|")
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 128 && name.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) || "._-/".unicodeScalars.contains($0)
        } && !name.hasPrefix(".")
    }
}
