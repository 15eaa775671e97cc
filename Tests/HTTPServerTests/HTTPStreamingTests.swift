import Foundation
import HTTPServer
import Testing

@Suite("HTTP server: streamed responses and shutdown")
struct HTTPStreamingTests {
    @Test("a stream fed from another thread arrives as chunked frames with a terminator")
    func streamedResponse() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        let client = try server.connect()
        client.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "text/event-stream")
        #expect(response.header("Transfer-Encoding") == "chunked")
        #expect(response.header("Content-Length") == nil)
        #expect(response.chunks?.map { String(decoding: $0, as: UTF8.self) } == ["data: 1\n\n", "data: 2\n\n", "data: 3\n\n"])
        // The connection stays usable after the stream's terminator.
        client.send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().status == 200)
    }

    @Test("an HTTP/1.0 client gets the stream unframed, ended by closing the connection")
    func streamToHTTP10() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        let client = try server.connect()
        client.send("GET /stream HTTP/1.0\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.header("Transfer-Encoding") == nil)
        #expect(response.header("Connection") == "close")
        #expect(response.bodyText == "data: 1\n\ndata: 2\n\ndata: 3\n\n")
    }

    @Test("a client that disconnects mid-stream fires onClose exactly once and later writes are ignored")
    func disconnectMidStream() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        let client = try server.connect()
        client.send("GET /endless HTTP/1.1\r\nHost: t\r\n\r\n")
        _ = try client.readHead()
        #expect(try client.readChunk() == Array("data: tick\n\n".utf8))
        client.close()
        #expect(eventually { server.events.streamCloses.value == 1 })
        // The producer keeps posting for a few more rounds; none of that may fire onClose again.
        #expect(eventually { server.events.writesAfterClose.value >= 3 })
        #expect(server.events.streamCloses.value == 1)
        #expect(try server.onLoop { server.server.connectionCount } == 0)
    }

    @Test("graceful shutdown waits for the in-flight response, then completes")
    func gracefulShutdown() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        let busy = try server.connect()
        let idle = try server.connect()
        idle.send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try idle.readResponse().status == 200)
        busy.send("GET /delay?ms=400 HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(eventually { server.events.requests.value == 2 })

        let completed = Counter()
        let shutdownServer = server.server
        server.bridge.post {
            shutdownServer.shutdown(deadline: .seconds(5)) { completed.increment() }
        }
        // The idle keep-alive connection is closed at once; the busy one is not.
        #expect(idle.waitForClose(timeout: 2))
        #expect(completed.value == 0)
        #expect((try? TestClient(port: server.port)) == nil, "no new connections after shutdown starts")

        let response = try busy.readResponse()
        #expect(response.bodyText == "delayed 400")
        #expect(response.header("Connection") == "close")
        #expect(busy.waitForClose(timeout: 2))
        #expect(eventually { completed.value == 1 })
    }

    @Test("shutdown closes stragglers at the deadline, telling their writers")
    func shutdownDeadline() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        let client = try server.connect()
        client.send("GET /endless HTTP/1.1\r\nHost: t\r\n\r\n")
        _ = try client.readHead()
        let completed = Counter()
        let shutdownServer = server.server
        let started = TestClient.now()
        server.bridge.post {
            shutdownServer.shutdown(deadline: .milliseconds(200)) { completed.increment() }
        }
        #expect(eventually { completed.value == 1 })
        #expect(TestClient.now() - started >= 0.15)
        #expect(server.events.streamCloses.value == 1)
        #expect(client.waitForClose(timeout: 2))
    }

    @Test("closeIdleConnections closes keep-alive connections between requests but not busy ones")
    func closeIdleConnections() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        let idle = try server.connect()
        idle.send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try idle.readResponse().status == 200)
        let busy = try server.connect()
        busy.send("GET /delay?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(eventually { server.events.requests.value == 2 })
        let httpServer = server.server
        try server.onLoop { httpServer.closeIdleConnections() }
        #expect(idle.waitForClose(timeout: 2))
        #expect(try busy.readResponse().bodyText == "delayed 300")
        busy.send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try busy.readResponse().status == 200)
    }
}
