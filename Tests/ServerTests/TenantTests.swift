import Foundation
import OpenAIAPI
import Testing
import TestSupport

extension ServerSuites {
    @Suite("Tenants see and use only what is theirs", .enabled(if: Fixtures.hasSmolLM2))
    struct TenantTests {
        static let tenantsJSON = """
        {"admin_keys_sha256": ["\(sha256Hex("admin-key"))"],
         "tenants": [
           {"name": "acme", "keys_sha256": ["\(sha256Hex("acme-key"))"], "adapters": ["lora-a"], "adapter_prefixes": ["acme-"],
            "max_concurrent_requests": 1},
           {"name": "globex", "keys_sha256": ["\(sha256Hex("globex-key"))"], "adapters": ["ia3-a"], "base_model": false,
            "tokens_per_minute": 30}
         ]}
        """

        func makeServer(root: String? = nil) throws -> TestServer {
            let file = scratchDirectory("tenants") + "/tenants.json"
            try Self.tenantsJSON.write(toFile: file, atomically: true, encoding: .utf8)
            let tenants = try TenantsFile.load(path: file)
            return try TestServer { options in
                options.tenants = tenants
                if let root { options.adapterRoots = [root] }
            }
        }

        let acme = ["Authorization: Bearer acme-key"], globex = ["Authorization: Bearer globex-key"]
        let admin = ["Authorization: Bearer admin-key"]

        func complete(_ server: TestServer, _ model: String, _ headers: [String], maxTokens: Int = 2) throws -> RawResponse {
            try server.post("/v1/completions", ["model": model, "prompt": "Hi", "max_tokens": maxTokens, "ignore_eos": true],
                            headers: headers)
        }

        @Test("a missing or wrong key is 401; a right one works")
        func authentication() throws {
            let server = try makeServer()
            #expect(try complete(server, baseModelID, []).status == 401)
            #expect(try complete(server, baseModelID, ["Authorization: Bearer nope"]).status == 401)
            #expect(try complete(server, baseModelID, ["Authorization: Basic YWNtZQ=="]).status == 401)
            #expect(try server.send("GET", "/v1/models", headers: []).status == 401)
            #expect(try complete(server, baseModelID, acme).status == 200)
            #expect(try complete(server, "lora-a", acme).status == 200)
            #expect(try server.call("GET", "/health").status == 200, "health needs no key")
        }

        @Test("another tenant's adapter answers 404 exactly like a missing one; models are filtered")
        func isolation() throws {
            let server = try makeServer()
            let foreign = try complete(server, "ia3-a", acme)
            let missing = try complete(server, "no-such-adapter", acme)
            #expect(foreign.status == 404 && missing.status == 404)
            #expect((foreign.json["error"] as? [String: Any])?["code"] as? String == "model_not_found")
            #expect(foreign.text.replacingOccurrences(of: "ia3-a", with: "X") == missing.text.replacingOccurrences(of: "no-such-adapter", with: "X"))
            #expect(try complete(server, baseModelID, globex).status == 404, "globex may not use the base model")
            let ids = (try server.send("GET", "/v1/models", headers: acme).json["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(ids == [baseModelID, "lora-a"])
            let adminIDs = (try server.send("GET", "/v1/models", headers: admin).json["data"] as? [[String: Any]] ?? []).count
            #expect(adminIDs == 1 + sharedAdapterNames.count)
            #expect(try server.send("GET", "/metrics", headers: acme).status == 404, "metrics are the admin's")
            #expect(try server.send("GET", "/metrics", headers: admin).status == 200)
        }

        @Test("tenants manage only their own names: load outside them is 403, unloading another's is 404")
        func management() throws {
            let root = scratchDirectory("tenant-root")
            try copySharedAdapter("lora-a", to: root + "/a")
            let server = try makeServer(root: root)
            #expect(try server.post("/v1/adapters", ["name": "acme-new", "path": root + "/a"], headers: acme).status == 201)
            #expect(try server.post("/v1/adapters", ["name": "globex-new", "path": root + "/a"], headers: acme).status == 403)
            let deleteForeign = try RawHTTPClient(port: server.port)
            try deleteForeign.send(RawHTTPClient.request("DELETE", "/v1/adapters/ia3-a", headers: acme))
            #expect(try deleteForeign.readResponse().status == 404)
            #expect(try complete(server, "ia3-a", globex).status == 200, "globex's adapter is still there")
            #expect(try server.post("/v1/adapters", ["name": "anything", "path": root + "/a"], headers: admin).status == 201)
        }

        @Test("over a tenant's limits: 429 with Retry-After")
        func limits() throws {
            let server = try makeServer()
            // acme: one request at a time. Hold one open with a long stream, then try another.
            let holder = try RawHTTPClient(port: server.port)
            try holder.send(RawHTTPClient.request("POST", "/v1/completions",
                                                  body: #"{"model": "lora-a", "prompt": "Go", "max_tokens": 400, "stream": true, "ignore_eos": true}"#,
                                                  headers: acme))
            _ = try holder.readSome()
            let second = try complete(server, "lora-a", acme)
            #expect(second.status == 429 && second.headers["retry-after"] != nil)
            // globex: 30 tokens per minute. The first request uses more; the next is refused.
            #expect(try complete(server, "ia3-a", globex, maxTokens: 40).status == 200)
            let over = try complete(server, "ia3-a", globex)
            #expect(over.status == 429)
            #expect(Int(over.headers["retry-after"] ?? "0") ?? 0 >= 1)
            let metrics = try server.send("GET", "/metrics", headers: admin).text
            #expect(metrics.contains(#"tenant="globex""#) && metrics.contains(#"tenant="acme""#))
        }
    }
}
