import Foundation
import Testing
import TestSupport

extension ServerSuites {
    @Suite("Bad input gets a clear answer and the server keeps serving", .enabled(if: Fixtures.hasSmolLM2))
    struct ErrorAndConnectionTests {
        /// The error body's fields.
        func error(_ response: RawResponse) -> [String: Any] { response.json["error"] as? [String: Any] ?? [:] }

        @Test("malformed JSON, wrong field types, unknown model, unknown route, wrong method, oversized context")
        func errorTable() throws {
            let server = try TestServer()
            let cases: [(path: String, method: String, body: String?, status: Int, code: String?, param: String?)] = [
                ("/v1/completions", "POST", "{not json", 400, "invalid_value", nil),
                ("/v1/completions", "POST", "[1, 2]", 400, "invalid_value", nil),
                ("/v1/completions", "POST", #"{"model": "\#(baseModelID)", "prompt": "x", "max_tokens": "ten"}"#, 400, "invalid_value", "max_tokens"),
                ("/v1/completions", "POST", #"{"model": "\#(baseModelID)", "prompt": "x", "temperature": 7}"#, 400, "invalid_value", "temperature"),
                ("/v1/completions", "POST", #"{"model": "\#(baseModelID)"}"#, 400, "invalid_value", "prompt"),
                ("/v1/completions", "POST", #"{"model": "\#(baseModelID)", "prompt": [1, 99999999]}"#, 400, "invalid_value", "prompt"),
                ("/v1/chat/completions", "POST", #"{"model": "\#(baseModelID)", "messages": [{"role": "wizard", "content": "x"}]}"#, 400, "invalid_value", "messages[0].role"),
                ("/v1/chat/completions", "POST", #"{"model": "\#(baseModelID)", "messages": "hi"}"#, 400, "invalid_value", "messages"),
                ("/v1/completions", "POST", #"{"model": "no-such-adapter", "prompt": "x"}"#, 404, "model_not_found", "model"),
                ("/v1/completions", "POST", #"{"model": "\#(baseModelID)", "prompt": "x", "max_tokens": 8192}"#, 400, "context_length_exceeded", "max_tokens"),
                ("/v1/completions", "POST", #"{"model": "\#(baseModelID)", "prompt": "x", "max_tokens": 3000}"#, 400, "context_length_exceeded", "max_tokens"),
                ("/v1/completions", "POST", #"{"model": "ia3-a", "prompt": "x", "adapter_scale": 2}"#, 400, "invalid_value", "adapter_scale"),
                ("/v1/completions", "POST", #"{"model": "\#(baseModelID)", "prompt": "x", "ignore_eos": "yes"}"#, 400, "invalid_value", "ignore_eos"),
                ("/v1/nothing", "GET", nil, 404, "not_found", nil),
                ("/v1/completions", "GET", nil, 405, "method_not_allowed", nil),
                ("/v1/models", "POST", "{}", 405, "method_not_allowed", nil),
            ]
            for c in cases {
                let response = try server.call(c.method, c.path, body: c.body)
                #expect(response.status == c.status, "\(c.method) \(c.path) \(c.body ?? "")")
                let body = error(response)
                #expect(body["code"] as? String == c.code, "\(c.body ?? c.path)")
                #expect(body["param"] as? String == c.param, "\(c.body ?? c.path)")
                #expect(!(body["message"] as? String ?? "").isEmpty && body["type"] is String)
            }
            let ok = try server.post("/v1/completions", ["model": baseModelID, "prompt": "Still", "max_tokens": 2])
            #expect(ok.status == 200)
        }

        @Test("a body over the limit is 413; headers over the limit 431")
        func sizeLimits() throws {
            let server = try TestServer { $0.http.maxBodyBytes = 1024 }
            let big = #"{"model": "x", "prompt": ""# + String(repeating: "a", count: 2000) + #""}"#
            #expect(try server.call("POST", "/v1/completions", body: big).status == 413)
            let client = try RawHTTPClient(port: server.port)
            try client.send("GET /health HTTP/1.1\r\nX-Big: " + String(repeating: "b", count: 20_000) + "\r\n\r\n")
            #expect(try client.readResponse().status == 431)
        }

        @Test("a full waiting queue answers 429 with Retry-After")
        func queueFull() throws {
            let server = try TestServer { $0.engine = .init(maxRunning: 1, maxStepTokens: 512, maxWaiting: 0) }
            let response = try server.post("/v1/completions", ["model": baseModelID, "prompt": "x", "max_tokens": 2])
            #expect(response.status == 429)
            #expect(response.headers["retry-after"] != nil)
            #expect(error(response)["code"] as? String == "rate_limit_exceeded")
        }

        @Test("pipelined requests on one connection are answered in order")
        func pipelining() throws {
            let server = try TestServer()
            let client = try RawHTTPClient(port: server.port)
            let slow = RawHTTPClient.request("POST", "/v1/completions",
                                             body: #"{"model": "\#(baseModelID)", "prompt": "Count:", "max_tokens": 24, "temperature": 0}"#)
            try client.send(slow + RawHTTPClient.request("GET", "/health") + RawHTTPClient.request("GET", "/v1/models"))
            let first = try client.readResponse(), second = try client.readResponse(), third = try client.readResponse()
            #expect(first.status == 200 && first.json["object"] as? String == "text_completion")
            #expect(second.status == 200 && second.text.contains("ok"))
            #expect(third.status == 200 && third.json["object"] as? String == "list")
        }

        @Test("a request written one byte at a time is answered like any other")
        func oneByteWrites() throws {
            let server = try TestServer()
            let client = try RawHTTPClient(port: server.port)
            let request = RawHTTPClient.request("POST", "/v1/completions",
                                                body: #"{"model": "\#(baseModelID)", "prompt": "Hello", "max_tokens": 3, "temperature": 0}"#)
            for byte in Array(request.utf8) { try client.send([byte]) }
            let response = try client.readResponse()
            #expect(response.status == 200)
            let reference = try server.post("/v1/completions", ["model": baseModelID, "prompt": "Hello", "max_tokens": 3, "temperature": 0])
            #expect((response.json["choices"] as? [[String: Any]])?.first?["text"] as? String
                    == (reference.json["choices"] as? [[String: Any]])?.first?["text"] as? String)
        }

        @Test("a slow client that stalls mid-request does not hold up anyone else, and is dropped after the header timeout")
        func slowClient() throws {
            let server = try TestServer { $0.http.headerReadTimeout = .milliseconds(500) }
            let slow = try RawHTTPClient(port: server.port)
            try slow.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Le")
            let start = Date()
            let response = try server.post("/v1/completions", ["model": baseModelID, "prompt": "Hi", "max_tokens": 2])
            #expect(response.status == 200 && Date().timeIntervalSince(start) < 5)
            Thread.sleep(forTimeInterval: 0.8)
            let answer = try? slow.readResponse()
            #expect(answer?.status == 408 || answer == nil, "stalled client gets 408 or a close")
        }

        @Test("a client that disconnects mid-stream cancels its sequence and its KV blocks are freed")
        func disconnectMidStream() throws {
            let server = try TestServer()
            var client: RawHTTPClient? = try RawHTTPClient(port: server.port)
            try client!.send(RawHTTPClient.request("POST", "/v1/completions",
                                                   body: #"{"model": "lora-b", "prompt": "Tell me a long story.", "max_tokens": 2000, "stream": true, "ignore_eos": true}"#))
            // Wait until tokens flow: the sequence is running and holds KV blocks.
            var received = 0
            while received < 600 {
                let bytes = try client!.readSome()
                #expect(String(decoding: bytes, as: UTF8.self).contains("200 OK") || received > 0, "the stream started")
                received += bytes.count
            }
            let busy = server.server.engine.snapshot
            #expect(busy.running == 1 && busy.kvBlocksUsed > 0)
            client = nil   // closes the socket
            let snapshot = server.waitUntilIdle()
            #expect(snapshot.running == 0 && snapshot.kvBlocksUsed == 0)
            #expect(snapshot.generatedTokens < 1000, "generation stopped early (\(snapshot.generatedTokens) tokens)")
        }
    }
}
