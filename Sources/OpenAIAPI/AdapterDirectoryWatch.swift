import Adapters
import Foundation
import HTTPServer
import Logging

/// Keeps the registry in step with an adapters directory while the server runs: a folder
/// that appears is loaded, one whose files change is loaded again as a new version, one that
/// disappears is unloaded. File events are debounced (a copy in progress fires many), and a
/// folder caught half-written simply fails to load and is tried again on its next event.
/// Loop-thread confined.
final class AdapterDirectoryWatch {
    private let directory: String
    private let loop: EventLoop
    private let manager: AdapterManager
    private let logger: Logger
    private let debounce: Duration
    private var rootWatcher: DirectoryWatcher?
    /// One watcher per adapter folder: Linux reports changes inside a folder only to a watch on it.
    private var folderWatchers: [String: DirectoryWatcher] = [:]
    private let rescanTimer: LoopTimer

    init(directory: String, loop: EventLoop, manager: AdapterManager, logger: Logger, debounce: Duration = .milliseconds(250)) throws {
        self.directory = directory
        self.loop = loop
        self.manager = manager
        self.logger = logger
        self.debounce = debounce
        rescanTimer = LoopTimer(loop: loop)
        rootWatcher = try DirectoryWatcher(loop: loop, path: directory) { [weak self] _ in self?.scheduleRescan() }
        rescan()
    }

    func close() {
        rootWatcher?.close()
        for watcher in folderWatchers.values { watcher.close() }
        folderWatchers.removeAll()
        rescanTimer.close()
    }

    private func scheduleRescan() {
        rescanTimer.schedule(after: debounce) { [weak self] in self?.rescan() }
    }

    /// Compares the folders on disk with the registry's directory-origin entries.
    func rescan() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var present: Set<String> = []
        for name in names.sorted() where !name.hasPrefix(".") {
            let folder = directory + "/" + name
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            present.insert(name)
            watchFolder(name)
            guard FileManager.default.fileExists(atPath: folder + "/" + AdapterLoader.configFile) else { continue }
            let entry = manager.registry.entry(name)
            if let entry, entry.origin != .directory { continue }   // the admin API owns this name
            if let entry, entry.signature == AdapterManager.signature(of: AdapterManager.realPath(folder) ?? folder) { continue }
            manager.load(name: name, path: folder, origin: .directory) { _ in }
        }
        for entry in manager.registry.all where entry.origin == .directory && !present.contains(entry.name) {
            _ = manager.unload(name: entry.name)
        }
        for (name, watcher) in folderWatchers where !present.contains(name) {
            watcher.close()
            folderWatchers[name] = nil
        }
    }

    private func watchFolder(_ name: String) {
        guard folderWatchers[name] == nil else { return }
        do {
            folderWatchers[name] = try DirectoryWatcher(loop: loop, path: directory + "/" + name) { [weak self] _ in
                self?.scheduleRescan()
            }
        } catch {
            logger.warning("cannot watch \(directory)/\(name): \(error)")
        }
    }
}
