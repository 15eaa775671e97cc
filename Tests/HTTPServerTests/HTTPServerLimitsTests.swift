import Foundation
import HTTPServer
import Testing

@Suite("HTTP server: limits, timeouts and hostile clients")
struct HTTPServerLimitsTests {
    @Test("a header block over maxHeaderBytes gets 431 and the connection closes")
    func headerTooLarge() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        let client = try server.connect()
        client.send("GET /echo HTTP/1.1\r\nHost: t\r\nX-Big: \(String(repeating: "a", count: 20_000))\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 431)
        #expect(response.header("Connection") == "close")
        #expect(client.waitForClose(timeout: 2))
    }

    @Test("a body over maxBodyBytes gets 413, whether declared or chunked")
    func bodyTooLarge() throws {
        let server = try ServerHarness(configuration: ServerHarness.configuration { $0.maxBodyBytes = 1024 })
        defer { server.stop() }

        let declared = try server.connect()
        declared.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n")
        #expect(try declared.readResponse().status == 413)
        #expect(declared.waitForClose(timeout: 2))

        let chunked = try server.connect()
        let piece = String(repeating: "z", count: 600)
        chunked.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n\(piece)\r\n258\r\n\(piece)\r\n0\r\n\r\n")
        #expect(try chunked.readResponse().status == 413)

        let fits = try server.connect()
        fits.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n\(String(repeating: "y", count: 1024))")
        #expect(try fits.readResponse().status == 200)
    }

    @Test("a malformed request gets 400 and the server keeps serving other connections")
    func malformedRequest() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        for garbage in ["GARBAGE\r\n\r\n", "GET / HTTP/9.Z\r\n\r\n", "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n"] {
            let client = try server.connect()
            client.send(garbage)
            let response = try client.readResponse()
            #expect(response.status == 400, "for \(garbage.debugDescription)")
            #expect(client.waitForClose(timeout: 2))
        }
        let healthy = try server.connect()
        healthy.send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try healthy.readResponse().status == 200)
    }

    @Test("random bytes on many connections never take the server down")
    func randomGarbage() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for round in 0..<6 {
            let client = try server.connect()
            var bytes = [UInt8]()
            for _ in 0..<4096 {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                bytes.append(UInt8(truncatingIfNeeded: seed >> 33))
            }
            // Half the rounds start like a real request, so the garbage lands in headers or body.
            if round.isMultiple(of: 2) {
                bytes = Array("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n".utf8) + bytes
            }
            client.send(bytes)
            _ = client.waitForClose(timeout: 2)
        }
        let healthy = try server.connect()
        healthy.send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try healthy.readResponse().status == 200)
    }

    @Test("a client that does not finish its headers in time gets 408 and is dropped")
    func headerReadTimeout() throws {
        let server = try ServerHarness(configuration: ServerHarness.configuration { $0.headerReadTimeout = .milliseconds(300) })
        defer { server.stop() }
        let client = try server.connect()
        let started = TestClient.now()
        client.send("GET /echo HTTP/1.1\r\nHost: t\r\n")
        // Trickling more header bytes must not extend the deadline.
        usleep(150_000)
        client.send("X-Slow: 1\r\n")
        let response = try client.readResponse(timeout: 3)
        #expect(response.status == 408)
        #expect(client.waitForClose(timeout: 2))
        let elapsed = TestClient.now() - started
        #expect(elapsed >= 0.25 && elapsed < 2.0, "took \(elapsed) s")
    }

    @Test("an idle keep-alive connection is closed silently after idleTimeout")
    func idleTimeout() throws {
        let server = try ServerHarness(configuration: ServerHarness.configuration { $0.idleTimeout = .milliseconds(300) })
        defer { server.stop() }
        let client = try server.connect()
        client.send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().status == 200)
        let started = TestClient.now()
        #expect(client.readToEnd(timeout: 3).isEmpty)
        let elapsed = TestClient.now() - started
        #expect(elapsed >= 0.2 && elapsed < 2.0, "took \(elapsed) s")
        #expect(try eventually { try server.onLoop { server.server.connectionCount } == 0 })
    }

    @Test("a slow response is not cut off by the idle timeout")
    func idleTimeoutSparesSlowResponses() throws {
        let server = try ServerHarness(configuration: ServerHarness.configuration { $0.idleTimeout = .milliseconds(100) })
        defer { server.stop() }
        let client = try server.connect()
        client.send("GET /delay?ms=400 HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().bodyText == "delayed 400")
    }

    @Test("beyond maxConnections the extra connection gets 503 and is closed")
    func connectionLimit() throws {
        let server = try ServerHarness(configuration: ServerHarness.configuration { $0.maxConnections = 2 })
        defer { server.stop() }
        let first = try server.connect()
        let second = try server.connect()
        for client in [first, second] {
            client.send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try client.readResponse().status == 200)
        }
        let third = try server.connect()
        third.send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        let refused = try third.readResponse()
        #expect(refused.status == 503)
        #expect(third.waitForClose(timeout: 2))

        // Once a slot frees up, new connections are served again.
        first.close()
        #expect(try eventually { try server.onLoop { server.server.connectionCount } == 1 })
        let fourth = try server.connect()
        fourth.send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try fourth.readResponse().status == 200)
    }

    @Test("pipelining past maxPipelinedRequests pauses reading instead of failing")
    func pipelineBackpressure() throws {
        let server = try ServerHarness(configuration: ServerHarness.configuration { $0.maxPipelinedRequests = 2 })
        defer { server.stop() }
        let client = try server.connect()
        let requests = (0..<6).map { "GET /delay?ms=\($0 == 0 ? 300 : 10) HTTP/1.1\r\nHost: t\r\nX-Tag: \($0)\r\n\r\n" }
        client.send(requests.joined())
        // While the first request is slow, only two may be in the handler's hands.
        #expect(eventually(timeout: 0.2) { server.events.requests.value == 2 })
        usleep(50_000)
        #expect(server.events.requests.value == 2)
        let tags = try (0..<6).map { _ in try client.readResponse().header("X-Tag") }
        #expect(tags == ["0", "1", "2", "3", "4", "5"])
    }

    @Test("a client that never reads does not hold up other clients")
    func nonReadingClient() throws {
        let server = try ServerHarness()
        defer { server.stop() }
        let stuck = try server.connect(receiveBufferSize: 4096)
        stuck.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        usleep(50_000)
        let other = try server.connect()
        let started = TestClient.now()
        other.send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try other.readResponse().status == 200)
        #expect(TestClient.now() - started < 1)
        stuck.close()
    }

    @Test("a stream to a client that never reads is dropped once its backlog passes maxPendingWriteBytes")
    func stalledStreamIsDropped() throws {
        let server = try ServerHarness(configuration: ServerHarness.configuration { $0.maxPendingWriteBytes = 256 * 1024 })
        defer { server.stop() }
        let stuck = try server.connect(receiveBufferSize: 4096)
        stuck.send("GET /flood HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(eventually(timeout: 8) { server.events.streamCloses.value == 1 })
        #expect(try server.onLoop { server.server.connectionCount } == 0)
    }

    @Test("mixed traffic from 16 clients, some vanishing mid-request, is served and leaves no connection behind")
    func mixedTraffic() throws {
        let server = try ServerHarness(configuration: ServerHarness.configuration {
            $0.maxConnections = 40
            $0.maxPipelinedRequests = 3
        })
        defer { server.stop() }
        let answered = Counter(), failed = Counter()
        let finished = DispatchSemaphore(value: 0)
        let port = server.port
        let requests = [
            "GET /echo?i=1 HTTP/1.1\r\nHost: t\r\n\r\n",
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
            "GET /delay?ms=5 HTTP/1.1\r\nHost: t\r\n\r\n",
            "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n",
            "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n",
        ]
        for thread in 0..<16 {
            Thread.detachNewThread {
                var random = SplitMix(seed: UInt64(thread))
                for _ in 0..<30 {
                    guard let client = try? TestClient(port: port) else {
                        failed.increment()
                        continue
                    }
                    let count = random.next(6) + 1
                    let batch = (0..<count).map { _ in requests[random.next(requests.count)] }.joined()
                    switch random.next(4) {
                    case 0:
                        // Send part of the batch and vanish.
                        let bytes = Array(batch.utf8)
                        client.send(Array(bytes[..<max(1, random.next(bytes.count))]))
                    case 1:
                        // Send everything and vanish before reading.
                        client.send(batch)
                        usleep(UInt32(random.next(5000)))
                    default:
                        client.send(batch)
                        for _ in 0..<count {
                            guard let response = try? client.readResponse(), response.status == 200 else {
                                failed.increment()
                                break
                            }
                            answered.increment()
                        }
                    }
                    client.close()
                }
                finished.signal()
            }
        }
        for _ in 0..<16 {
            #expect(finished.wait(timeout: .now() + 30) == .success)
        }
        #expect(failed.value == 0)
        #expect(answered.value > 200)
        #expect(try eventually { try server.onLoop { server.server.connectionCount } == 0 })
    }
}

/// A tiny deterministic random number generator, so a failing run can be repeated.
private struct SplitMix {
    var seed: UInt64

    /// A number in 0..<bound.
    mutating func next(_ bound: Int) -> Int {
        seed &+= 0x9E37_79B9_7F4A_7C15
        var z = seed
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }
}
