import Adapters
import Llama
import Testing
import TestSupport

@Suite("Many adapters in one batch")
struct MixedBatchTests {
    @Test("a batch of base rows and rows of every adapter kind gives each row its greedy tokens alone",
          arguments: [512, 7])
    func everyKindTogether(maxStepTokens: Int) throws {
        let model = try tinyModel()
        var requests: [(prompt: [Int], adapter: AdapterUse?)] = []
        var expected: [[Int]] = []
        let base = try Fixtures.json("tiny/goldens.json", as: TinyGoldens.self)
        for g in base.greedy { requests.append((g.promptIDs, nil)); expected.append(Array(g.outputIDs.prefix(12))) }
        for name in fixtureAdapterNames {
            let adapter = try fixtureAdapter(name, model: model)
            for g in try Fixtures.json("adapters/\(name)/goldens.json", as: TinyGoldens.self).greedy {
                requests.append((g.promptIDs, AdapterUse(adapter)))
                expected.append(g.outputIDs)
            }
        }
        // Interleave kinds so that grouping, not arrival order, makes the segments.
        let order = requests.indices.sorted { ($0 % 2, $0) < ($1 % 2, $1) }
        let outputs = try generateTogether(model, requests: order.map { requests[$0] }, maxTokens: 12,
                                           maxStepTokens: maxStepTokens)
        for (position, index) in order.enumerated() {
            #expect(outputs[position] == expected[index], "request \(index) (\(requests[index].adapter?.adapter.name ?? "base"))")
        }
    }

    @Test("two versions of one adapter and two scales of one LoRA run side by side, each as alone")
    func versionsAndScales() throws {
        let model = try tinyModel()
        let v1 = try fixtureAdapter("lora", model: model, version: 1)
        let v2 = try fixtureAdapter("lora-all", model: model, version: 2)
        let prompt = [3, 14, 15, 92, 65]
        let uses: [AdapterUse?] = [AdapterUse(v1), AdapterUse(v2), AdapterUse(v1, scale: 0.5), nil, AdapterUse(v1, scale: 2)]
        let alone = try uses.map { try generateTogether(model, requests: [(prompt, $0)], maxTokens: 10)[0] }
        let together = try generateTogether(model, requests: uses.map { (prompt, $0) }, maxTokens: 10)
        #expect(together == alone)
        #expect(Set(alone.map { $0.description }).count >= 3, "the scales and versions should differ somewhere")
    }
}
