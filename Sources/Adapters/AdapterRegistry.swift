import Foundation

/// What the registry knows about one adapter name.
public struct AdapterEntry: Sendable {
    /// The version new requests get.
    public let adapter: Adapter
    /// When this version was installed.
    public let loadedAt: Date
    /// Seconds the load took (read, check, precompute).
    public let loadSeconds: Double
    /// Requests admitted with this name since it was first loaded.
    public var requestsServed: Int
    /// When a request last resolved this name.
    public var lastUsed: Date?
}

/// Serving names → current adapter versions. Thread-safe.
///
/// A request resolves its adapter once, at admission, and holds that `Adapter` value (an
/// immutable object) until it ends: replacing or removing a name here never changes a request
/// in flight, and a replaced version is freed when its last request lets go of it.
public final class AdapterRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: AdapterEntry] = [:]
    private var nextVersion = 1

    /// An empty registry.
    public init() {}

    /// A fresh version number (monotonic across all names).
    public func makeVersion() -> Int {
        lock.lock()
        defer { lock.unlock() }
        nextVersion += 1
        return nextVersion - 1
    }

    /// Installs `adapter` under its name, replacing any current version; returns the replaced one.
    @discardableResult
    public func install(_ adapter: Adapter, loadSeconds: Double) -> Adapter? {
        lock.lock()
        defer { lock.unlock() }
        let old = entries[adapter.name]
        entries[adapter.name] = AdapterEntry(adapter: adapter, loadedAt: Date(), loadSeconds: loadSeconds,
                                             requestsServed: old?.requestsServed ?? 0, lastUsed: old?.lastUsed)
        return old?.adapter
    }

    /// Removes `name`; returns the version that was current.
    @discardableResult
    public func remove(_ name: String) -> Adapter? {
        lock.lock()
        defer { lock.unlock() }
        return entries.removeValue(forKey: name)?.adapter
    }

    /// The current version of `name` for a new request (counted as a use), or nil.
    public func resolve(_ name: String) -> Adapter? {
        lock.lock()
        defer { lock.unlock() }
        guard var entry = entries[name] else { return nil }
        entry.requestsServed += 1
        entry.lastUsed = Date()
        entries[name] = entry
        return entry.adapter
    }

    /// The current version of `name` without counting a use.
    public func current(_ name: String) -> Adapter? {
        lock.lock()
        defer { lock.unlock() }
        return entries[name]?.adapter
    }

    /// Every entry, by name.
    public var all: [AdapterEntry] {
        lock.lock()
        defer { lock.unlock() }
        return entries.values.sorted { $0.adapter.name < $1.adapter.name }
    }

    /// Bytes of the current versions.
    public var residentBytes: Int { all.reduce(0) { $0 + $1.adapter.byteCount } }
}
