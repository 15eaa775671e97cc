/// One server-sent event: its `data` lines joined with newlines, and its `event` name if any.
public struct SSEEvent: Sendable, Equatable {
    /// The event type (`event:` field); nil means the default "message".
    public var event: String?
    /// The payload: every `data:` line of the event joined with "\n".
    public var data: String

    /// An event; see the properties.
    public init(event: String? = nil, data: String) {
        self.event = event
        self.data = data
    }

    /// True for the OpenAI end-of-stream sentinel `data: [DONE]`.
    public var isDone: Bool { data == "[DONE]" }
}

/// An incremental parser of a `text/event-stream` body, fed in arbitrary pieces.
///
/// Follows the WHATWG rules that matter here: lines end in LF, CRLF or a lone CR; a blank
/// line dispatches the event; lines starting with ":" are comments (keep-alives); a field
/// name is followed by ":" and one optional space; `id` and `retry` are accepted and ignored.
/// An event without data is not dispatched.
public struct SSEParser: Sendable {
    private var line: [UInt8] = []
    private var dataLines: [String] = []
    private var eventName: String?
    /// Set when the previous piece ended in CR, so an LF at the start of the next one is not a second line end.
    private var skipNextLF = false

    /// A parser at the start of a stream.
    public init() {}

    /// Consumes bytes and returns the events they complete.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [SSEEvent] {
        var events: [SSEEvent] = []
        for byte in bytes {
            if skipNextLF {
                skipNextLF = false
                if byte == UInt8(ascii: "\n") { continue }
            }
            switch byte {
            case UInt8(ascii: "\r"):
                skipNextLF = true
                endLine(&events)
            case UInt8(ascii: "\n"):
                endLine(&events)
            default:
                line.append(byte)
            }
        }
        return events
    }

    /// Ends the stream; an event with no terminating blank line is discarded, as the spec says.
    public mutating func finish() -> [SSEEvent] {
        line.removeAll()
        dataLines.removeAll()
        eventName = nil
        return []
    }

    private mutating func endLine(_ events: inout [SSEEvent]) {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            if !dataLines.isEmpty { events.append(SSEEvent(event: eventName, data: dataLines.joined(separator: "\n"))) }
            dataLines.removeAll()
            eventName = nil
            return
        }
        if line[0] == UInt8(ascii: ":") { return }  // comment
        let text = String(decoding: line, as: UTF8.self)
        let name: Substring, value: Substring
        if let colon = text.firstIndex(of: ":") {
            name = text[..<colon]
            let afterColon = text[text.index(after: colon)...]
            value = afterColon.first == " " ? afterColon.dropFirst() : afterColon
        } else {
            name = Substring(text)
            value = ""
        }
        switch name {
        case "data": dataLines.append(String(value))
        case "event": eventName = String(value)
        default: break  // id, retry and unknown fields do not affect what we measure
        }
    }
}
