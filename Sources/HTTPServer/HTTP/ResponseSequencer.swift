/// Keeps one connection's responses in request order, the rule HTTP/1.1 pipelining depends on.
///
/// Each request gets a slot when it is dispatched. Bytes for the oldest unfinished slot go
/// straight to the wire; bytes for later slots wait in memory until every earlier response
/// has finished. A pure value with no I/O, so the ordering rules can be tested on their own.
public struct ResponseSequencer: Sendable {
    /// Identifies one response on the connection; slots are handed out in increasing order.
    public typealias Slot = UInt64

    /// What finishing a response lets through: bytes to write now, and whether the connection must then close.
    public struct Release: Sendable, Equatable {
        /// Bytes of later responses that were waiting and may now be written, in order.
        public var bytes: [UInt8]
        /// True when a response that asked to close the connection has reached the wire; everything after it was dropped.
        public var closesConnection: Bool

        /// Creates a release.
        public init(bytes: [UInt8] = [], closesConnection: Bool = false) {
            self.bytes = bytes
            self.closesConnection = closesConnection
        }
    }

    private struct Entry: Sendable {
        var buffered: [UInt8] = []
        var isFinished = false
        var closesConnection = false
    }

    /// Unfinished or unsent responses, oldest first; `entries[0]` is the one on the wire.
    private var entries: [Entry] = []
    /// The slot of `entries[0]`; slots are consecutive, so an entry's index is `slot - firstSlot`.
    private var firstSlot: Slot = 0
    private var nextSlot: Slot = 0

    /// True once a closing response has gone out; later slots are ignored.
    public private(set) var isClosed = false

    /// Creates an empty sequencer.
    public init() {}

    /// Responses opened and not yet fully released to the wire.
    public var outstandingCount: Int { entries.count }

    /// Whether no response is in progress or waiting.
    public var isIdle: Bool { entries.isEmpty }

    /// The most recently opened slot still outstanding, if any.
    public var newestSlot: Slot? { entries.isEmpty ? nil : nextSlot - 1 }

    /// Reserves the next response position.
    public mutating func open() -> Slot {
        let slot = nextSlot
        nextSlot += 1
        if entries.isEmpty {
            firstSlot = slot
        }
        if !isClosed {
            entries.append(Entry())
        }
        return slot
    }

    /// Accepts bytes for `slot` and returns those that may be written now (empty while an earlier response is unfinished).
    public mutating func write(_ bytes: [UInt8], to slot: Slot) -> [UInt8] {
        guard let index = index(of: slot) else { return [] }
        precondition(!entries[index].isFinished, "write to a response that already finished")
        if index == 0 {
            return bytes
        }
        entries[index].buffered += bytes
        return []
    }

    /// Marks `slot` complete and returns what that releases; only the oldest response's completion releases anything.
    public mutating func finish(_ slot: Slot, closesConnection: Bool) -> Release {
        guard let index = index(of: slot) else { return Release() }
        precondition(!entries[index].isFinished, "response finished twice")
        entries[index].isFinished = true
        entries[index].closesConnection = closesConnection
        guard index == 0 else { return Release() }

        var release = Release()
        while let head = entries.first, head.isFinished {
            entries.removeFirst()
            firstSlot += 1
            if head.closesConnection {
                isClosed = true
                entries.removeAll()
                release.closesConnection = true
                return release
            }
            guard !entries.isEmpty else { break }
            // The next response is now on the wire: flush what it wrote while it waited.
            release.bytes += entries[0].buffered
            entries[0].buffered = []
        }
        return release
    }

    private func index(of slot: Slot) -> Int? {
        guard slot >= firstSlot, slot < firstSlot + Slot(entries.count) else { return nil }
        return Int(slot - firstSlot)
    }
}
