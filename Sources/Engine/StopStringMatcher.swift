/// Finds stop strings in streamed text without ever emitting part of one.
///
/// Text that could still be the start of a stop string is held back until the next
/// delta decides it.
public struct StopStringMatcher: Sendable {
    public let stopStrings: [String]
    private var pending = ""

    /// A matcher for `stopStrings` (empty strings are ignored).
    public init(_ stopStrings: [String]) { self.stopStrings = stopStrings.filter { !$0.isEmpty } }

    /// Feeds newly decoded text; returns the text safe to emit and whether a stop string ended it.
    public mutating func feed(_ text: String) -> (emit: String, stopped: Bool) {
        guard !stopStrings.isEmpty else { return (text, false) }
        pending += text
        // Earliest complete stop string wins.
        var earliest: String.Index?
        for stop in stopStrings {
            if let range = pending.range(of: stop), earliest.map({ range.lowerBound < $0 }) ?? true {
                earliest = range.lowerBound
            }
        }
        if let cut = earliest {
            let emit = String(pending[..<cut])
            pending = ""
            return (emit, true)
        }
        // Hold back the longest suffix that is a proper prefix of some stop string.
        var hold = 0
        for stop in stopStrings {
            var n = min(stop.count - 1, pending.count)
            while n > hold {
                if pending.hasSuffix(stop.prefix(n)) { hold = n; break }
                n -= 1
            }
        }
        let emitEnd = pending.index(pending.endIndex, offsetBy: -hold)
        let emit = String(pending[..<emitEnd])
        pending = String(pending[emitEnd...])
        return (emit, false)
    }

    /// Text held back at the end of generation (no stop string completed).
    public mutating func flush() -> String {
        defer { pending = "" }
        return pending
    }
}
