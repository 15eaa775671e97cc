import LoadGenCore
import Testing

/// The SSE parser must give the same events however TCP splits the bytes.
@Suite("Server-sent events parser")
struct SSEParserTests {
    let stream = """
    : keep-alive comment\r
    data: {"choices":[{"index":0,"text":"Hel","finish_reason":null}]}\r
    \r
    event: message\r
    data: {"choices":[{"index":0,"text":"lo","finish_reason":null}]}\r
    \r
    data:{"no":"space"}\r
    \r
    data: line one\r
    data: line two\r
    id: 7\r
    retry: 100\r
    \r
    data: [DONE]\r
    \r

    """

    let expected = [
        SSEEvent(data: #"{"choices":[{"index":0,"text":"Hel","finish_reason":null}]}"#),
        SSEEvent(event: "message", data: #"{"choices":[{"index":0,"text":"lo","finish_reason":null}]}"#),
        SSEEvent(data: #"{"no":"space"}"#),
        SSEEvent(data: "line one\nline two"),
        SSEEvent(data: "[DONE]"),
    ]

    func parse(_ pieces: [[UInt8]]) -> [SSEEvent] {
        var parser = SSEParser()
        return pieces.flatMap { parser.feed($0) }
    }

    @Test("all at once, with CRLF line ends, comments, multi-line data and [DONE]")
    func whole() {
        let events = parse([Array(stream.utf8)])
        #expect(events == expected)
        #expect(events.last?.isDone == true)
        #expect(events.dropLast().allSatisfy { !$0.isDone })
    }

    @Test("byte by byte")
    func byteByByte() {
        #expect(parse(Array(stream.utf8).map { [$0] }) == expected)
    }

    @Test("split at every possible position, including between CR and LF")
    func everySplit() {
        let bytes = Array(stream.utf8)
        for cut in 0...bytes.count {
            #expect(parse([Array(bytes[..<cut]), Array(bytes[cut...])]) == expected, "cut at \(cut)")
        }
    }

    @Test("random chunkings")
    func randomChunks() {
        let bytes = Array(stream.utf8)
        var rng = Xoshiro256(seed: 4)
        for _ in 0..<200 {
            var pieces: [[UInt8]] = []
            var i = 0
            while i < bytes.count {
                let n = 1 + rng.nextIndex(below: 17)
                pieces.append(Array(bytes[i..<min(i + n, bytes.count)]))
                i += n
            }
            #expect(parse(pieces) == expected)
        }
    }

    @Test("LF-only and CR-only line ends give the same events")
    func lineEnds() {
        let lf = stream.replacingAll("\r\n", "\n")
        let cr = stream.replacingAll("\r\n", "\r")
        #expect(parse([Array(lf.utf8)]) == expected)
        #expect(parse(Array(cr.utf8).map { [$0] }) == expected)
    }

    @Test("an event without its closing blank line is not dispatched")
    func unterminated() {
        var parser = SSEParser()
        #expect(parser.feed(Array("data: partial\n".utf8)).isEmpty)
        #expect(parser.finish().isEmpty)
    }
}

extension String {
    /// Test helper: plain replacement without Foundation.
    func replacingAll(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
