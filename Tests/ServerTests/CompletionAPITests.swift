import Foundation
import Testing
import TestSupport

extension ServerSuites {
    @Suite("The OpenAI API over real TCP", .enabled(if: Fixtures.hasSmolLM2))
    struct CompletionAPITests {
        @Test("completions: greedy token ids equal transformers' for the SmolLM2 golden prompts")
        func completionsMatchGoldens() throws {
            let server = try TestServer()
            let goldens = try Fixtures.json("smollm2/greedy.json", as: SmolLM2Goldens.self)
            for prompt in goldens.prompts.prefix(2) {
                let response = try server.post("/v1/completions", [
                    "model": baseModelID, "prompt": prompt.inputIDs, "max_tokens": 16, "temperature": 0,
                    "return_token_ids": true,
                ])
                #expect(response.status == 200)
                let choice = (response.json["choices"] as? [[String: Any]])?.first
                let ids = choice?["token_ids"] as? [Int] ?? []
                let expected = Array(prompt.outputIDs.prefix(16))
                #expect(Array(ids.prefix(expected.count)) == Array(expected.prefix(ids.count)), "\(prompt.text)")
                let usage = response.json["usage"] as? [String: Int]
                #expect(usage?["prompt_tokens"] == prompt.inputIDs.count)
                #expect(response.json["object"] as? String == "text_completion")
            }
        }

        @Test("ignore_eos (extension) generates exactly max_tokens, continuing past the end-of-sequence token")
        func ignoreEOS() throws {
            let server = try TestServer()
            var body: [String: Any] = ["model": baseModelID, "messages": [["role": "user", "content": "What is the capital of France?"]],
                                       "max_tokens": 48, "temperature": 0, "return_token_ids": true]
            let plain = try server.post("/v1/chat/completions", body)
            body["ignore_eos"] = true
            let forced = try server.post("/v1/chat/completions", body)
            #expect(plain.status == 200 && forced.status == 200)
            let plainChoice = (plain.json["choices"] as? [[String: Any]])?.first
            let forcedChoice = (forced.json["choices"] as? [[String: Any]])?.first
            let plainIDs = plainChoice?["token_ids"] as? [Int] ?? []
            let forcedIDs = forcedChoice?["token_ids"] as? [Int] ?? []
            #expect(plainChoice?["finish_reason"] as? String == "stop" && plainIDs.count < 48, "the greedy answer ends early")
            #expect(forcedChoice?["finish_reason"] as? String == "length" && forcedIDs.count == 48)
            #expect(Array(forcedIDs.prefix(plainIDs.count)) == plainIDs, "same tokens up to where the plain answer stopped")
            #expect((forced.json["usage"] as? [String: Int])?["completion_tokens"] == 48)
        }

        @Test("chat completions: an assistant message, finish_reason, usage; n choices")
        func chat() throws {
            let server = try TestServer()
            let response = try server.post("/v1/chat/completions", [
                "model": baseModelID, "messages": [["role": "user", "content": "What is the capital of France?"]],
                "max_tokens": 24, "temperature": 0, "n": 2,
            ])
            #expect(response.status == 200)
            let choices = response.json["choices"] as? [[String: Any]] ?? []
            #expect(choices.count == 2)
            let message = choices.first?["message"] as? [String: Any]
            #expect(message?["role"] as? String == "assistant")
            #expect((message?["content"] as? String ?? "").contains("Paris"))
            #expect(choices.first?["finish_reason"] as? String == "stop")
            #expect(response.json["object"] as? String == "chat.completion")
            let usage = response.json["usage"] as? [String: Int] ?? [:]
            #expect(usage["total_tokens"] == (usage["prompt_tokens"] ?? 0) + (usage["completion_tokens"] ?? 0))
        }

        @Test("streaming: SSE chunks add up to the non-streamed text, then usage, then [DONE]")
        func streaming() throws {
            let server = try TestServer()
            let request: [String: Any] = ["model": "lora-a", "prompt": "Once upon a time", "max_tokens": 20, "temperature": 0]
            let whole = try server.post("/v1/completions", request)
            var streamed = request
            streamed["stream"] = true
            streamed["stream_options"] = ["include_usage": true]
            let response = try server.post("/v1/completions", streamed)
            #expect(response.status == 200)
            #expect(response.headers["content-type"] == "text/event-stream")
            let events = response.events
            #expect(events.last == "[DONE]")
            var text = ""
            var usage: [String: Int]?
            for event in events.dropLast() {
                let chunk = try #require(try JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any])
                for choice in chunk["choices"] as? [[String: Any]] ?? [] { text += choice["text"] as? String ?? "" }
                if let u = chunk["usage"] as? [String: Int] { usage = u }
            }
            let expected = (whole.json["choices"] as? [[String: Any]])?.first?["text"] as? String
            #expect(text == expected)
            #expect(usage?["completion_tokens"] == 20)
        }

        @Test("chat streaming starts with the assistant role and ends with a finish reason")
        func chatStreaming() throws {
            let server = try TestServer()
            let response = try server.post("/v1/chat/completions", [
                "model": "prefix-a", "messages": [["role": "user", "content": "Hi"]], "max_tokens": 8, "stream": true,
                "ignore_eos": true,   // sampled: without it an early end-of-sequence would finish with "stop"
            ])
            let chunks = response.events.dropLast().compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            let first = (chunks.first?["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any]
            #expect(first?["role"] as? String == "assistant")
            let last = (chunks.last?["choices"] as? [[String: Any]])?.first
            #expect(last?["finish_reason"] as? String == "length")
            #expect(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
        }

        @Test("logprobs: chosen-token logprob and alternatives, in OpenAI's completions and chat shapes")
        func logprobs() throws {
            let server = try TestServer()
            let completion = try server.post("/v1/completions", ["model": baseModelID, "prompt": "2 + 2 =", "max_tokens": 3,
                                                                 "temperature": 0, "logprobs": 2])
            let lp = ((completion.json["choices"] as? [[String: Any]])?.first?["logprobs"]) as? [String: Any]
            #expect((lp?["tokens"] as? [String])?.count == 3)
            #expect((lp?["top_logprobs"] as? [[String: Double]])?.allSatisfy { $0.count == 2 } == true)
            #expect((lp?["token_logprobs"] as? [Double])?.allSatisfy { $0 <= 0 } == true)
            let chat = try server.post("/v1/chat/completions", ["model": baseModelID, "messages": [["role": "user", "content": "Hi"]],
                                                                "max_tokens": 2, "logprobs": true, "top_logprobs": 3,
                                                                "ignore_eos": true])
            let content = (((chat.json["choices"] as? [[String: Any]])?.first?["logprobs"]) as? [String: Any])?["content"] as? [[String: Any]]
            #expect(content?.count == 2)
            #expect((content?.first?["top_logprobs"] as? [[String: Any]])?.count == 3)
        }

        @Test("models lists the base and every adapter with its kind; health and metrics answer")
        func modelsHealthMetrics() throws {
            let server = try TestServer()
            let models = try server.call("GET", "/v1/models")
            let data = models.json["data"] as? [[String: Any]] ?? []
            #expect(data.first?["id"] as? String == baseModelID)
            let kinds = Dictionary(uniqueKeysWithValues: data.dropFirst().map {
                ($0["id"] as? String ?? "", (($0["adapter"] as? [String: Any])?["kind"] as? String) ?? "")
            })
            #expect(kinds == ["lora-a": "lora", "lora-b": "lora", "dora-a": "dora", "ia3-a": "ia3", "prefix-a": "prefix_tuning",
                              "prompt-a": "prompt_tuning"])
            #expect(try server.call("GET", "/health").status == 200)
            _ = try server.post("/v1/completions", ["model": "ia3-a", "prompt": "Hello", "max_tokens": 2])
            let metrics = try server.call("GET", "/metrics")
            #expect(metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
            for name in ["switchboard_requests_total", "switchboard_generated_tokens_total", "switchboard_time_to_first_token_seconds_bucket",
                         "switchboard_inter_token_latency_seconds_bucket", "switchboard_running_sequences", "switchboard_waiting_requests",
                         "switchboard_kv_blocks_used", "switchboard_kv_blocks_free", "switchboard_batch_tokens"] {
                #expect(metrics.text.contains(name), "\(name) missing")
            }
            #expect(metrics.text.contains(#"model="ia3-a""#))
        }
    }
}
