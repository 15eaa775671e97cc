import Foundation
import HTTPServer
import Testing

@Suite("HTTP server: requests and responses over real TCP")
struct HTTPServerBasicsTests {
    @Test("a GET is answered with Content-Length framing and the handler sees path and query")
    func simpleGet() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        let client = try server.connect()
        client.send("GET /echo?x=1&y=2 HTTP/1.1\r\nHost: test\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(response.bodyText == "GET /echo\n")
        #expect(response.header("Content-Length") == "10")
        #expect(response.header("X-Query") == "x=1&y=2")
        #expect(response.header("Connection") == nil)
    }

    @Test("a POST body with Content-Length reaches the handler intact")
    func postWithBody() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        let client = try server.connect()
        client.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 11\r\n\r\nhello world")
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(response.bodyText == "POST /echo\nhello world")
    }

    @Test("two requests share one keep-alive connection")
    func keepAlive() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        let client = try server.connect()
        client.send("GET /echo HTTP/1.1\r\nHost: test\r\n\r\n")
        let first = try client.readResponse()
        client.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\nabc")
        let second = try client.readResponse()
        #expect(first.bodyText == "GET /echo\n")
        #expect(second.bodyText == "POST /echo\nabc")
        #expect(first.header("X-Connection") == second.header("X-Connection"))
        #expect(try server.onLoop { server.server.connectionCount } == 1)
    }

    @Test("pipelined requests are answered in request order even when the first finishes last")
    func pipelinedInOrder() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        let client = try server.connect()
        client.send(
            "GET /delay?ms=200 HTTP/1.1\r\nHost: t\r\nX-Tag: first\r\n\r\n"
                + "GET /echo?n=2 HTTP/1.1\r\nHost: t\r\n\r\n"
                + "POST /echo?n=3 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nthree"
        )
        // All three reach the handler, and two are answered, long before the first is.
        #expect(eventually(timeout: 0.15) { server.events.requests.value == 3 })
        let responses = try (0..<3).map { _ in try client.readResponse() }
        #expect(responses[0].header("X-Tag") == "first")
        #expect(responses[0].bodyText == "delayed 200")
        #expect(responses[1].header("X-Query") == "n=2")
        #expect(responses[2].bodyText == "POST /echo\nthree")
    }

    @Test("a chunked request body is decoded before the handler sees it")
    func chunkedRequestBody() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        let client = try server.connect()
        client.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.bodyText == "POST /echo\nhello world")
    }

    @Test("a request written one byte at a time is parsed like any other")
    func oneByteAtATime() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        let client = try server.connect()
        for byte in Array("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nslow".utf8) {
            client.send([byte])
            usleep(500)
        }
        let response = try client.readResponse()
        #expect(response.bodyText == "POST /echo\nslow")
    }

    @Test("Expect: 100-continue gets an interim 100 before the final response")
    func expectContinue() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        let client = try server.connect()
        client.send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        let interim = try client.readResponse()
        #expect(interim.status == 100)
        client.send("body")
        let final = try client.readResponse()
        #expect(final.status == 200)
        #expect(final.bodyText == "POST /echo\nbody")
    }

    @Test("Connection: close and HTTP/1.0 end the connection after the response")
    func connectionClose() throws {
        let server = try ServerHarness()
        defer { server.stop() }

        let closing = try server.connect()
        closing.send("GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        #expect(try closing.readResponse().header("Connection") == "close")
        #expect(closing.waitForClose(timeout: 2))

        let old = try server.connect()
        old.send("GET /echo HTTP/1.0\r\n\r\n")
        #expect(try old.readResponse().header("Connection") == "close")
        #expect(old.waitForClose(timeout: 2))

        let oldKeepAlive = try server.connect()
        oldKeepAlive.send("GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try oldKeepAlive.readResponse().header("Connection") == "keep-alive")
        oldKeepAlive.send("GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try oldKeepAlive.readResponse().status == 200)

        let handlerCloses = try server.connect()
        handlerCloses.send("GET /close HTTP/1.1\r\nHost: t\r\n\r\n")
        let response = try handlerCloses.readResponse()
        #expect(response.bodyText == "bye")
        #expect(response.headers.filter { $0.0 == "Connection" }.count == 1)
        #expect(handlerCloses.waitForClose(timeout: 2))
    }

    @Test("a client that half-closes after its last request still gets the answer")
    func halfClosedClient() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        let client = try server.connect()
        client.send("GET /delay?ms=50 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        client.finishSending()
        #expect(try client.readResponse().bodyText == "delayed 50")
        #expect(client.waitForClose(timeout: 2))
    }

    @Test("a client that half-closes a keep-alive connection counts as gone")
    func halfClosedKeepAliveClient() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        let client = try server.connect()
        client.send("GET /endless HTTP/1.1\r\nHost: t\r\n\r\n")
        _ = try client.readHead()
        client.finishSending()
        #expect(eventually { server.events.streamCloses.value == 1 })
        #expect(client.waitForClose(timeout: 2))
    }

    @Test("header names match case-insensitively and repeated headers are all kept")
    func headerLookup() throws {
        let seen = UncheckedBox<HTTPRequest?>(nil)
        let server = try ServerHarness { request, writer, _, _ in
            seen.value = request
            writer.respond(status: 204)
        }
        defer { server.stop() }
        let client = try server.connect()
        client.send("GET /h HTTP/1.1\r\nHost: t\r\nX-Multi: a\r\nx-multi: b\r\nX-Empty:\r\nContent-TYPE: text/plain\r\n\r\n")
        #expect(try client.readResponse().status == 204)
        let request = try #require(seen.value)
        #expect(request.header("content-type") == "text/plain")
        #expect(request.headers(named: "X-MULTI") == ["a", "b"])
        #expect(request.header("x-empty") == "")
        #expect(request.headers.count == 5)
        #expect(request.remoteAddress.hasPrefix("127.0.0.1:"))
        #expect(request.version == .http1_1)
        #expect(request.keepAlive)
    }

    @Test("HEAD responses carry the length but no body")
    func headRequest() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        let client = try server.connect()
        client.send("HEAD /echo HTTP/1.1\r\nHost: t\r\n\r\nGET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        let head = try client.readHead()
        #expect(head.contains("Content-Length: 11"))
        // The next bytes must be the second response, not a body for the first.
        let next = try client.readResponse()
        #expect(next.bodyText == "GET /echo\n")
    }

    @Test("status lines use the standard reason phrases")
    func reasonPhrases() {
        let expected: [Int: String] = [
            100: "Continue", 200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
            401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            408: "Request Timeout", 409: "Conflict", 413: "Content Too Large", 422: "Unprocessable Content",
            429: "Too Many Requests", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
            501: "Not Implemented", 503: "Service Unavailable",
        ]
        for (code, phrase) in expected {
            #expect(HTTPStatus.reasonPhrase(for: code) == phrase)
        }
        #expect(HTTPStatus.reasonPhrase(for: 499) == "Client Error")
    }

    @Test("an absolute-form target is split into path and query")
    func requestTargets() {
        let absolute = HTTPRequest(method: "GET", target: "http://example.com/v1/models?x=1")
        #expect(absolute.path == "/v1/models")
        #expect(absolute.query == "x=1")
        let plain = HTTPRequest(method: "GET", target: "/a/b")
        #expect(plain.path == "/a/b")
        #expect(plain.query == nil)
    }

    @Test("binding a port that is taken throws a typed error")
    func bindFailure() throws {
        let first = try ServerHarness()
        defer { first.stop() }
        let port = first.port
        let outcome = UncheckedBox<HTTPServerError?>(nil)
        let harness = try LoopHarness { loop, _ in
            let server = HTTPServer(loop: loop, configuration: HTTPServerConfiguration(port: port)) { _, _ in }
            do {
                try server.start()
            } catch {
                outcome.value = error as? HTTPServerError
            }
        }
        harness.stop()
        #expect(outcome.value == .bindFailed(host: "127.0.0.1", port: port, code: -98))
    }
}
