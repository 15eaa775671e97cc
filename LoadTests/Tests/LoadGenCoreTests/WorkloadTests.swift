import LoadGenCore
import Testing

/// Lengths, prompts and the request sequence.
@Suite("Workload")
struct WorkloadTests {
    func samples(_ spec: String, count: Int = 50_000) throws -> [Int] {
        let distribution = try LengthDistribution(parsing: spec)
        var rng = Xoshiro256(seed: 9)
        return (0..<count).map { _ in distribution.sample(using: &rng) }
    }

    @Test("length specs parse and print back", arguments: ["128", "uniform:64:256", "normal:128:32", "lognormal:100:0.5"])
    func lengthRoundTrip(spec: String) throws {
        #expect(try LengthDistribution(parsing: spec).description == spec)
    }

    @Test("bad length specs are refused", arguments: ["0", "-3", "uniform:10", "uniform:9:3", "normal:x:1", "gamma:1:2", ""])
    func badLengths(spec: String) {
        #expect(throws: ConfigError.self) { try LengthDistribution(parsing: spec) }
    }

    @Test("uniform lengths cover the inclusive range evenly")
    func uniformLengths() throws {
        let values = try samples("uniform:10:19")
        #expect(values.min() == 10 && values.max() == 19)
        let mean = Double(values.reduce(0, +)) / Double(values.count)
        #expect(abs(mean - 14.5) < 0.1)
    }

    @Test("normal lengths have the requested mean; lognormal ones the requested median; none is below 1")
    func shapedLengths() throws {
        let normal = try samples("normal:200:20")
        #expect(abs(Double(normal.reduce(0, +)) / Double(normal.count) - 200) < 1)
        let lognormal = try samples("lognormal:100:0.5").sorted()
        #expect(abs(Double(lognormal[lognormal.count / 2]) - 100) <= 2)
        #expect(try samples("normal:2:50").allSatisfy { $0 >= 1 })
    }

    @Test("a prompt of N tokens is N words from the word list")
    func promptWords() {
        var rng = Xoshiro256(seed: 1)
        let prompt = PromptSynthesizer.prompt(tokens: 37, using: &rng)
        let words = prompt.split(separator: " ").map(String.init)
        #expect(words.count == 37)
        #expect(words.allSatisfy(PromptSynthesizer.words.contains))
        #expect(Set(PromptSynthesizer.words).count == PromptSynthesizer.words.count)
    }

    @Test("request i depends only on the seed and i, whatever order requests are drawn in")
    func determinism() throws {
        let spec = WorkloadSpec(modelNames: ["a", "b", "c"], popularity: .zipf(alpha: 1), promptTokens: .uniform(min: 5, max: 50),
                                maxTokens: .normal(mean: 20, standardDeviation: 5), seed: 77)
        let workload = try Workload(spec)
        let forward = (0..<200).map(workload.request)
        let backward = (0..<200).reversed().map(workload.request).reversed()
        #expect(forward == Array(backward))
        let other = try Workload(WorkloadSpec(modelNames: ["a", "b", "c"], promptTokens: .uniform(min: 5, max: 50), seed: 78))
        #expect((0..<20).map { other.request(at: $0).prompt } != forward.prefix(20).map(\.prompt))
    }

    @Test("a prompt pool limits the distinct (prompt, max_tokens) pairs, and the verify keys enumerate them")
    func promptPool() throws {
        let spec = WorkloadSpec(modelNames: ["a", "b"], promptTokens: .uniform(min: 5, max: 50), maxTokens: .uniform(min: 1, max: 30),
                                distinctPrompts: 3, seed: 5)
        let workload = try Workload(spec)
        let requests = (0..<500).map(workload.request)
        #expect(Set(requests.map { "\($0.prompt)|\($0.maxTokens)" }).count == 3)
        #expect(try workload.distinctKeys(requests: nil).count == 6)
        #expect(Set(requests.map(\.verifyKey)).isSubset(of: Set(try workload.distinctKeys(requests: nil))))
        #expect(try workload.distinctKeys(requests: 500).count == Set(requests.map(\.verifyKey)).count)
        let unbounded = try Workload(WorkloadSpec(modelNames: ["a"], distinctPrompts: 0))
        #expect(throws: ConfigError.self) { try unbounded.distinctKeys(requests: nil) }
    }

    @Test("request bodies carry the OpenAI fields, with stream_options only when streaming")
    func requestBody() throws {
        let spec = RequestSpec(index: 0, model: "synth-1", prompt: "the cat", maxTokens: 7, api: .completions, stream: true,
                               temperature: 0, samplingSeed: 3, returnTokenIDs: true)
        let text = String(decoding: OpenAIProtocol.encode(OpenAIProtocol.RequestBody(spec)), as: UTF8.self)
        #expect(text == #"{"max_tokens":7,"model":"synth-1","prompt":"the cat","return_token_ids":true,"seed":3,"stream":true,"stream_options":{"include_usage":true},"temperature":0}"#)
        var chat = spec
        chat.api = .chat
        chat.stream = false
        chat.returnTokenIDs = false
        let chatText = String(decoding: OpenAIProtocol.encode(OpenAIProtocol.RequestBody(chat)), as: UTF8.self)
        #expect(chatText == #"{"max_tokens":7,"messages":[{"content":"the cat","role":"user"}],"model":"synth-1","seed":3,"stream":false,"temperature":0}"#)
    }

    @Test("ignore_eos is sent only when asked for, and keeps expected outputs apart")
    func ignoreEOS() throws {
        let workload = try Workload(WorkloadSpec(modelNames: ["a"], distinctPrompts: 2, ignoreEOS: true))
        let request = workload.request(at: 0)
        #expect(request.ignoreEOS && request.verifyKey.ignoreEOS)
        let text = String(decoding: OpenAIProtocol.encode(OpenAIProtocol.RequestBody(request)), as: UTF8.self)
        #expect(text.contains(#""ignore_eos":true"#))
        var plain = request
        plain.ignoreEOS = false
        #expect(!String(decoding: OpenAIProtocol.encode(OpenAIProtocol.RequestBody(plain)), as: UTF8.self).contains("ignore_eos"))
        #expect(plain.verifyKey != request.verifyKey)
    }
}
