import Foundation

/// Where a registered adapter came from (decides what the directory watch may change).
public enum AdapterOrigin: String, Sendable {
    /// A folder of the watched adapters directory.
    case directory
    /// The admin API.
    case api
}

/// What the registry knows about one adapter name.
public struct AdapterEntry: Sendable {
    public let name: String
    /// Folder the current version was loaded from (and is reloaded from after eviction).
    public let source: String
    public let origin: AdapterOrigin
    /// The current version when resident; nil when evicted (known, reloaded on demand).
    public fileprivate(set) var adapter: Adapter?
    public let version: Int
    public let kind: AdapterKind
    public let rank: Int
    public let byteCount: Int
    /// Files' modification times when loaded (the directory watch compares them).
    public let signature: String
    public let loadedAt: Date
    /// Seconds the load took (read, check, precompute).
    public let loadSeconds: Double
    public fileprivate(set) var lastUsed: Date?
    public fileprivate(set) var requestsServed: Int

    public var isResident: Bool { adapter != nil }
}

/// What `resolve` found for a name.
public enum AdapterResolution: Sendable {
    /// The current version, ready to pin to a request.
    case resident(Adapter)
    /// Known but evicted under the memory budget: reload it from `source`, then resolve again.
    case evicted(source: String)
    case unknown
}

/// Serving names → current adapter versions, with a memory budget. Thread-safe.
///
/// A request resolves its adapter once, at admission, and holds that `Adapter` (an immutable
/// object) until it ends: replacing or removing a name never changes a request in flight, and
/// a replaced version's memory is freed when its last request lets go of it (ARC).
/// When resident versions exceed the budget, the least recently used ones that no request
/// holds are evicted; they stay known and are reloaded on demand.
public final class AdapterRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: AdapterEntry] = [:]
    private var nextVersion = 1
    /// Most bytes of resident adapters (nil: no limit).
    public let memoryBudget: Int?

    /// An empty registry with an optional memory budget in bytes.
    public init(memoryBudget: Int? = nil) {
        self.memoryBudget = memoryBudget
    }

    /// A fresh version number (monotonic across all names).
    public func makeVersion() -> Int {
        lock.withLock {
            nextVersion += 1
            return nextVersion - 1
        }
    }

    /// Installs `adapter` under its name, replacing any current version (which requests in
    /// flight keep until they end). Returns the names evicted to stay within the budget.
    @discardableResult
    public func install(_ adapter: Adapter, origin: AdapterOrigin, signature: String = "", loadSeconds: Double) -> [String] {
        lock.withLock {
            let old = entries[adapter.name]
            entries[adapter.name] = AdapterEntry(
                name: adapter.name, source: adapter.source, origin: origin, adapter: adapter, version: adapter.version,
                kind: adapter.kind, rank: adapter.rank, byteCount: adapter.byteCount, signature: signature, loadedAt: Date(),
                loadSeconds: loadSeconds, lastUsed: old?.lastUsed, requestsServed: old?.requestsServed ?? 0)
            return evictOverBudget(keeping: adapter.name)
        }
    }

    /// Forgets `name`; returns its entry. Requests holding its version finish with it.
    @discardableResult
    public func remove(_ name: String) -> AdapterEntry? {
        lock.withLock { entries.removeValue(forKey: name) }
    }

    /// The current version of `name` for a new request (counted as a use).
    public func resolve(_ name: String) -> AdapterResolution {
        lock.withLock {
            guard var entry = entries[name] else { return .unknown }
            guard let adapter = entry.adapter else { return .evicted(source: entry.source) }
            entry.requestsServed += 1
            entry.lastUsed = Date()
            entries[name] = entry
            return .resident(adapter)
        }
    }

    /// The entry of `name`, if known.
    public func entry(_ name: String) -> AdapterEntry? { lock.withLock { entries[name] } }

    /// Every entry, by name.
    public var all: [AdapterEntry] { lock.withLock { entries.values.sorted { $0.name < $1.name } } }

    /// Bytes of resident versions (not counting replaced versions still held by requests).
    public var residentBytes: Int { lock.withLock { entries.values.reduce(0) { $0 + ($1.adapter?.byteCount ?? 0) } } }

    /// Evicts least-recently-used resident entries until within the budget. An entry some
    /// request still holds is skipped: the registry's reference being the only one (checked in
    /// place, so no copy adds a reference) means no request uses that version.
    private func evictOverBudget(keeping protected: String) -> [String] {
        guard let budget = memoryBudget else { return [] }
        var total = entries.values.reduce(0) { $0 + ($1.adapter?.byteCount ?? 0) }
        guard total > budget else { return [] }
        // Names and dates only: holding entry copies would hold their adapters too.
        let candidates = entries.compactMap { name, entry -> (name: String, used: Date)? in
            entry.adapter != nil && name != protected ? (name, entry.lastUsed ?? entry.loadedAt) : nil
        }.sorted { $0.used < $1.used }
        var evicted: [String] = []
        for candidate in candidates where total > budget {
            guard isKnownUniquelyReferenced(&entries[candidate.name]!.adapter!) else { continue }
            total -= entries[candidate.name]!.byteCount
            entries[candidate.name]!.adapter = nil
            evicted.append(candidate.name)
        }
        return evicted
    }
}
