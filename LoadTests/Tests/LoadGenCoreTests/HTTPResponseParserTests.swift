import LoadGenCore
import Testing

/// HTTP/1.1 response framing, fed in every possible way TCP might split it.
@Suite("HTTP response parser")
struct HTTPResponseParserTests {
    /// Parses `pieces`, returning the head, the joined body and whether `.end` came.
    func parse(_ pieces: [[UInt8]], closeAtEnd: Bool = false) throws -> (HTTPResponseHead?, String, Bool) {
        var parser = HTTPResponseParser()
        var events: [HTTPResponseEvent] = []
        for piece in pieces { events += try parser.feed(piece) }
        if closeAtEnd { events += try parser.finish() }
        var head: HTTPResponseHead?
        var body: [UInt8] = []
        var ended = false
        for event in events {
            switch event {
            case .head(let h): head = h
            case .body(let b): body += b
            case .end: ended = true
            }
        }
        return (head, String(decoding: body, as: UTF8.self), ended)
    }

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("Content-Length body, whole and byte by byte")
    func contentLength() throws {
        let response = bytes("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"ok\": true}\n")
        for pieces in [[response], response.map { [$0] }] {
            let (head, body, ended) = try parse(pieces)
            #expect(head?.status == 200)
            #expect(head?.reason == "OK")
            #expect(head?.header("content-type") == "application/json")
            #expect(body == "{\"ok\": true}\n")
            #expect(ended)
        }
    }

    let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"
        + "7\r\ndata: {\r\n" + "A;ext=1\r\n\"a\":1}\r\n\r\n\r\n" + "e\r\ndata: [DONE]\n\n\r\n" + "0\r\nX-Trailer: yes\r\n\r\n"

    @Test("chunked body with an extension and a trailer, split byte by byte")
    func chunkedByteByByte() throws {
        let (head, body, ended) = try parse(bytes(chunked).map { [$0] })
        #expect(head?.header("Transfer-Encoding") == "chunked")
        #expect(body == "data: {\"a\":1}\r\n\r\ndata: [DONE]\n\n")
        #expect(ended)
    }

    @Test("chunked body split at every position gives the same body")
    func chunkedEverySplit() throws {
        let all = bytes(chunked)
        for cut in 0...all.count {
            let (_, body, ended) = try parse([Array(all[..<cut]), Array(all[cut...])])
            #expect(body == "data: {\"a\":1}\r\n\r\ndata: [DONE]\n\n" && ended, "cut at \(cut)")
        }
    }

    @Test("an interim 100 Continue is skipped")
    func interim() throws {
        let (head, body, _) = try parse([bytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno")])
        #expect(head?.status == 404)
        #expect(body == "no")
    }

    @Test("a body without length runs until the connection closes")
    func untilClose() throws {
        let (head, body, ended) = try parse([bytes("HTTP/1.0 200 OK\r\n\r\nabc"), bytes("def")], closeAtEnd: true)
        #expect(head?.status == 200 && body == "abcdef" && ended)
    }

    @Test("204 and Content-Length: 0 end right after the head")
    func emptyBodies() throws {
        #expect(try parse([bytes("HTTP/1.1 204 No Content\r\n\r\n")]).2)
        #expect(try parse([bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")]).2)
    }

    @Test("malformed input is an error, not a hang")
    func errors() {
        #expect(throws: HTTPParseError.self) { try parse([bytes("HTTP/1.1 abc OK\r\n\r\n")]) }
        #expect(throws: HTTPParseError.self) { try parse([bytes("SMTP ready\r\n")]) }
        #expect(throws: HTTPParseError.self) { try parse([bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")]) }
        #expect(throws: HTTPParseError.self) { try parse([bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")], closeAtEnd: true) }
        #expect(throws: HTTPParseError.self) { try parse([bytes("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab")]) }
        #expect(throws: HTTPParseError.self) { try parse([bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n")]) }
    }
}
