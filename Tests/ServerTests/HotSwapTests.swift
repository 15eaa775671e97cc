import Adapters
import Foundation
import Testing
import TestSupport

extension ServerSuites {
    @Suite("Adapters change while the server runs", .enabled(if: Fixtures.hasSmolLM2))
    struct HotSwapTests {
        func models(_ server: TestServer) throws -> [String: [String: Any]] {
            let data = try server.call("GET", "/v1/models").json["data"] as? [[String: Any]] ?? []
            return Dictionary(uniqueKeysWithValues: data.map { ($0["id"] as? String ?? "", ($0["adapter"] as? [String: Any]) ?? [:]) })
        }

        @Test("load, replace and unload through the admin API; a request in flight keeps its version to the end")
        func adminLifecycle() throws {
            let root = scratchDirectory("root")
            try copySharedAdapter("lora-a", to: root + "/v1")
            try copySharedAdapter("lora-b", to: root + "/v2")
            let server = try TestServer(preload: false) { $0.adapterRoots = [root] }
            let base = try server.greedyText(model: baseModelID, prompt: "The ocean is", maxTokens: 40)

            let loaded = try server.post("/v1/adapters", ["name": "tenant-x", "path": root + "/v1"])
            #expect(loaded.status == 201 && loaded.json["version"] is Int && loaded.json["kind"] as? String == "lora")
            let v1Text = try server.greedyText(model: "tenant-x", prompt: "The ocean is", maxTokens: 40)
            #expect(v1Text != nil && v1Text != base)

            // A long stream on v1, then a replacement with v2 while it runs.
            let client = try RawHTTPClient(port: server.port)
            try client.send(RawHTTPClient.request("POST", "/v1/completions", body:
                #"{"model": "tenant-x", "prompt": "The ocean is", "max_tokens": 40, "temperature": 0, "stream": true}"#))
            let replaced = try server.post("/v1/adapters", ["name": "tenant-x", "path": root + "/v2"])
            #expect(replaced.status == 200 && replaced.json["replaced"] as? Bool == true)
            let streamed = try client.readResponse().events.dropLast().compactMap { event -> String? in
                let chunk = try? JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any]
                return ((chunk?["choices"] as? [[String: Any]])?.first?["text"]) as? String
            }.joined()
            #expect(streamed == v1Text, "the in-flight request finished on the version it started with")
            let v2Text = try server.greedyText(model: "tenant-x", prompt: "The ocean is", maxTokens: 40)
            #expect(v2Text != v1Text)
            #expect((try models(server)["tenant-x"]?["version"] as? Int ?? 0) > (loaded.json["version"] as? Int ?? 0))

            let unloaded = try server.call("DELETE", "/v1/adapters/tenant-x")
            #expect(unloaded.status == 200)
            let after = try server.post("/v1/completions", ["model": "tenant-x", "prompt": "x", "max_tokens": 2])
            #expect(after.status == 404)
            #expect(try server.call("DELETE", "/v1/adapters/tenant-x").status == 404)
            #expect(server.registry.residentBytes == 0)
        }

        @Test("vLLM-compatible load_lora_adapter / unload_lora_adapter")
        func vllmEndpoints() throws {
            let root = scratchDirectory("vllm")
            try copySharedAdapter("ia3-a", to: root + "/a")
            let server = try TestServer(preload: false) { $0.adapterRoots = [root] }
            let load = try server.post("/v1/load_lora_adapter", ["lora_name": "vl", "lora_path": root + "/a"])
            #expect(load.status == 200 && load.text.contains("Success"))
            #expect(try server.greedyText(model: "vl", prompt: "Hi") != nil)
            let unload = try server.post("/v1/unload_lora_adapter", ["lora_name": "vl"])
            #expect(unload.status == 200 && unload.text.contains("removed"))
            #expect(try server.post("/v1/unload_lora_adapter", ["lora_name": "vl"]).status == 404)
        }

        @Test("paths outside the adapter roots are refused, through .. or a symlink")
        func pathsStayInsideRoots() throws {
            let root = scratchDirectory("inside"), outside = scratchDirectory("outside")
            try copySharedAdapter("lora-a", to: outside + "/escape")
            try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: outside + "/escape")
            let server = try TestServer(preload: false) { $0.adapterRoots = [root] }
            for path in [outside + "/escape", root + "/../" + URL(fileURLWithPath: outside).lastPathComponent + "/escape", root + "/link", "/etc"] {
                let response = try server.post("/v1/adapters", ["name": "escape", "path": path])
                #expect(response.status == 400, "\(path)")
                let message = (response.json["error"] as? [String: Any])?["message"] as? String ?? ""
                #expect(message.contains("outside the adapter roots"))
            }
            #expect(try models(server)["escape"] == nil)
        }

        @Test("bad adapter folders are rejected with their reason while the old version keeps serving")
        func badFoldersKeepOldVersion() throws {
            let root = scratchDirectory("bad")
            try copySharedAdapter("lora-a", to: root + "/good")
            let server = try TestServer(preload: false) { $0.adapterRoots = [root] }
            #expect(try server.post("/v1/adapters", ["name": "svc", "path": root + "/good"]).status == 201)
            let before = try server.greedyText(model: "svc", prompt: "Tell me")

            func variant(_ label: String, _ edit: (String) throws -> Void) throws -> String {
                let dir = root + "/" + label
                try copySharedAdapter("lora-a", to: dir)
                try edit(dir)
                return dir
            }
            let tensors = AdapterLoader.tensorFile, config = AdapterLoader.configFile
            let cases: [(String, String, (String) throws -> Void)] = [
                ("truncated", "safetensors", { dir in
                    let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + tensors))
                    try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: dir + "/" + tensors))
                }),
                ("wrong-shapes", "does not fit", { dir in
                    try copySharedAdapter("lora-a", to: dir)   // then claim a different rank in the config
                    var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/" + config))) as! [String: Any]
                    json["r"] = 4
                    try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: dir + "/" + config))
                }),
                ("other-base", "different base model", { dir in
                    var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/" + config))) as! [String: Any]
                    json["base_model_name_or_path"] = "meta-llama/Llama-3.2-1B"
                    try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: dir + "/" + config))
                }),
                ("pickle", "pickle", { dir in
                    try FileManager.default.removeItem(atPath: dir + "/" + tensors)
                    try Data([0x80, 0x02]).write(to: URL(fileURLWithPath: dir + "/adapter_model.bin"))
                }),
                ("nan", "NaN", { dir in
                    var data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + tensors))
                    // The last 4 bytes are the last float of the last tensor: make it a NaN.
                    data.replaceSubrange(data.count - 4..<data.count, with: [0x00, 0x00, 0xC0, 0x7F])
                    try data.write(to: URL(fileURLWithPath: dir + "/" + tensors))
                }),
            ]
            for (label, reason, edit) in cases {
                let dir = try variant(label, edit)
                let response = try server.post("/v1/adapters", ["name": "svc", "path": dir])
                let message = (response.json["error"] as? [String: Any])?["message"] as? String ?? ""
                #expect(response.status == 400, "\(label)")
                #expect(message.contains(reason), "\(label): \(message)")
                #expect(try server.greedyText(model: "svc", prompt: "Tell me") == before, "\(label): the old version still serves")
            }
        }

        @Test("the adapters directory is watched: new folders load, changed ones reload, removed ones unload")
        func directoryWatch() throws {
            let watched = scratchDirectory("watched")
            try copySharedAdapter("lora-a", to: watched + "/first")
            let server = try TestServer(preload: false) { $0.adapterDirectory = watched }
            #expect(try models(server)["first"] != nil, "loaded at start")
            try copySharedAdapter("prefix-a", to: watched + "/second")
            #expect(try eventually { try models(server)["second"]?["kind"] as? String == "prefix_tuning" })
            let version = try models(server)["first"]?["version"] as? Int ?? 0
            try FileManager.default.removeItem(atPath: watched + "/first/" + AdapterLoader.tensorFile)
            try FileManager.default.copyItem(atPath: sharedAdapterDirectory! + "/lora-b/" + AdapterLoader.tensorFile,
                                             toPath: watched + "/first/" + AdapterLoader.tensorFile)
            let config = sharedAdapterDirectory! + "/lora-b/" + AdapterLoader.configFile
            try FileManager.default.removeItem(atPath: watched + "/first/" + AdapterLoader.configFile)
            try FileManager.default.copyItem(atPath: config, toPath: watched + "/first/" + AdapterLoader.configFile)
            #expect(try eventually {
                let first = try models(server)["first"]
                return (first?["version"] as? Int ?? 0) > version && first?["rank"] as? Int == 16
            })
            try FileManager.default.removeItem(atPath: watched + "/second")
            #expect(try eventually { try models(server)["second"] == nil })
        }

        @Test("over the memory budget the least recently used adapter is evicted, listed as not resident, and reloaded on demand")
        func memoryBudget() throws {
            let root = scratchDirectory("budget")
            for name in ["lora-a", "dora-a", "ia3-a"] { try copySharedAdapter(name, to: root + "/" + name) }
            // lora-a (r8 q,v) is about 1.8 MB; dora-a about 1.4 MB; ia3-a 0.2 MB: 2.5 MB fits two of them.
            let registry = AdapterRegistry(memoryBudget: 2_500_000)
            let server = try TestServer(preload: false, registry: registry) { $0.adapterRoots = [root] }
            for name in ["lora-a", "dora-a"] {
                #expect(try server.post("/v1/adapters", ["name": name, "path": root + "/" + name]).status == 201)
            }
            let listed = try models(server)
            #expect(listed["lora-a"]?["resident"] as? Bool == false, "the older one made room")
            #expect(listed["dora-a"]?["resident"] as? Bool == true)
            #expect(registry.residentBytes <= 2_500_000)
            let text = try server.greedyText(model: "lora-a", prompt: "Hello")
            #expect(text != nil, "an evicted adapter reloads on demand")
            #expect(try models(server)["lora-a"]?["resident"] as? Bool == true)
        }
    }
}
