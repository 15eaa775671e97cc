import DequeModule

/// Requests waiting to join the running batch, admitted fairly across tenants.
///
/// Fair share follows the virtual token counter of Sheng et al. ("Fairness in Serving Large
/// Language Models", OSDI 2024): each tenant's counter grows with the tokens the engine spends
/// on it (prompt tokens when admitted, one per generated token), and the next request admitted
/// is the oldest one of the waiting tenant with the smallest counter. A tenant that was idle
/// rejoins at the smallest counter among waiting tenants, so it cannot bank credit while away,
/// and a tenant that floods the queue only ever competes with its own requests.
/// Within one tenant, order is first come, first served. Not thread-safe (the engine locks it).
public struct AdmissionQueue: Sendable {
    private var queues: [String: Deque<EngineRequest>] = [:]
    private var counters: [String: Double] = [:]
    /// Requests waiting.
    public private(set) var count = 0

    /// An empty queue.
    public init() {}

    /// Whether nothing waits.
    public var isEmpty: Bool { count == 0 }

    /// Adds a request at the back of its tenant's queue.
    public mutating func append(_ request: EngineRequest) {
        let tenant = request.tenant
        if queues[tenant, default: []].isEmpty {
            // Rejoining: no credit for time spent idle.
            let floor = queues.filter { !$0.value.isEmpty }.keys.compactMap { counters[$0] }.min()
            counters[tenant] = max(counters[tenant] ?? 0, floor ?? counters[tenant] ?? 0)
        }
        queues[tenant, default: []].append(request)
        count += 1
    }

    /// The request that would be admitted next, without removing it.
    public func peek() -> EngineRequest? {
        guard let tenant = nextTenant() else { return nil }
        return queues[tenant]?.first
    }

    /// Removes and returns the next request to admit; charges its prompt to its tenant.
    public mutating func popNext() -> EngineRequest? {
        guard let tenant = nextTenant(), let request = queues[tenant]?.popFirst() else { return nil }
        count -= 1
        charge(tenant: tenant, tokens: request.prompt.count)
        return request
    }

    /// Removes a waiting request (cancelled before it ran).
    public mutating func remove(_ id: RequestID) -> EngineRequest? {
        for (tenant, queue) in queues {
            if let index = queue.firstIndex(where: { $0.id == id }) {
                count -= 1
                return queues[tenant]!.remove(at: index)
            }
        }
        return nil
    }

    /// Adds service a tenant received (generated tokens).
    public mutating func charge(tenant: String, tokens: Int) {
        counters[tenant, default: 0] += Double(tokens)
    }

    /// Every waiting request, oldest tenant queue first (for draining).
    public mutating func removeAll() -> [EngineRequest] {
        let all = queues.values.flatMap { $0 }
        queues.removeAll()
        count = 0
        return all
    }

    /// Waiting tenant with the least service so far (ties: name order, for determinism).
    private func nextTenant() -> String? {
        queues.filter { !$0.value.isEmpty }.keys.min { (counters[$0] ?? 0, $0) < (counters[$1] ?? 0, $1) }
    }
}
