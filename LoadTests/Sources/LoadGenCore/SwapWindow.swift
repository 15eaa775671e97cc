/// The interval during which a swap could affect requests to `adapter`.
public struct SwapWindow: Sendable, Equatable {
    /// The adapter acted on.
    public var adapter: String
    /// Seconds since the run start.
    public var start: Double
    /// Seconds since the run start.
    public var end: Double
    /// True for an unload…reload window (the adapter is legitimately missing), false for a replace.
    public var unloaded: Bool

    /// A window; see the properties.
    public init(adapter: String, start: Double, end: Double, unloaded: Bool) {
        self.adapter = adapter
        self.start = start
        self.end = end
        self.unloaded = unloaded
    }

    /// Windows from a list of events: each replace alone, each unload joined with the reload that follows it.
    public static func windows(from events: [SwapEvent]) -> [SwapWindow] {
        var windows: [SwapWindow] = []
        var openUnloads: [String: Double] = [:]
        for event in events {
            switch event.kind {
            case .replace:
                windows.append(SwapWindow(adapter: event.adapter, start: event.start, end: event.end, unloaded: false))
            case .unload:
                openUnloads[event.adapter] = event.start
            case .reload:
                let start = openUnloads.removeValue(forKey: event.adapter) ?? event.start
                windows.append(SwapWindow(adapter: event.adapter, start: start, end: event.end, unloaded: true))
            }
        }
        // An unload whose reload never came leaves the adapter missing until the end.
        for (adapter, start) in openUnloads {
            windows.append(SwapWindow(adapter: adapter, start: start, end: .infinity, unloaded: true))
        }
        return windows
    }

    /// True if the window and the interval [start, end] share any time.
    public func overlaps(start: Double, end: Double) -> Bool { self.start <= end && start <= self.end }
}
