import Adapters
import Llama
import Testing
import TestSupport

@Suite("Every adapter kind computes what PEFT computes")
struct PEFTGoldenTests {
    // Tolerance: the tiny model's logits are O(1–10); fp32 with another summation order (BLAS
    // blocking, FMA, the low-rank kernel's order) stays within 1e-4 of PyTorch.
    static let tolerance: Float = 1e-4

    @Test("logits of every real position within 1e-4 of PEFT's", arguments: fixtureAdapterNames)
    func logits(name: String) throws {
        let model = try tinyModel()
        let adapter = try fixtureAdapter(name, model: model)
        let goldens = try Fixtures.json("adapters/\(name)/goldens.json", as: TinyGoldens.self)
        var worst: Float = 0
        for c in goldens.cases {
            let got = adapterLogits(model, AdapterUse(adapter), c.ids)
            #expect(got.count == c.logits.count)
            for (row, expected) in zip(got, c.logits) { worst = max(worst, maxAbsDifference(row, expected)) }
        }
        #expect(worst <= Self.tolerance, "\(name): worst logit error \(worst)")
    }

    // f16 factors round each weight of A and B to 11 significant bits, so the error scales with
    // the adapter's delta, not with the logits: within 2e-3 of the largest change the adapter
    // makes to any logit (measured: ≤ 1.4e-3; the fixtures' deltas are ~7–9, so ≤ 1.3e-2 absolute).
    static let halfRelativeTolerance: Float = 2e-3

    @Test("with f16 factors LoRA and DoRA stay within 2e-3 × their delta of PEFT's logits, in half the bytes",
          arguments: ["lora", "lora-all", "rslora", "dora"])
    func halfPrecisionLogits(name: String) throws {
        let model = try tinyModel()
        let full = try fixtureAdapter(name, model: model)
        let half = try fixtureAdapter(name, model: model, precision: .f16)
        let goldens = try Fixtures.json("adapters/\(name)/goldens.json", as: TinyGoldens.self)
        var worst: Float = 0, biggestDelta: Float = 0
        for c in goldens.cases {
            let got = adapterLogits(model, AdapterUse(half), c.ids), base = adapterLogits(model, nil, c.ids)
            for (row, (expected, baseRow)) in zip(got, zip(c.logits, base)) {
                worst = max(worst, maxAbsDifference(row, expected))
                biggestDelta = max(biggestDelta, maxAbsDifference(expected, baseRow))
            }
        }
        #expect(worst <= Self.halfRelativeTolerance * biggestDelta,
                "\(name): worst logit error \(worst) with f16 factors, largest delta \(biggestDelta)")
        // Factors take half the bytes; DoRA's gain vector stays f32.
        #expect(half.byteCount < full.byteCount && half.byteCount * 2 >= full.byteCount)
        #expect(name == "dora" || half.byteCount * 2 == full.byteCount)
    }

    @Test("the adapter changes the model (its logits are not the base's)", arguments: fixtureAdapterNames)
    func differsFromBase(name: String) throws {
        let model = try tinyModel()
        let adapter = try fixtureAdapter(name, model: model)
        let ids = [5, 17, 42, 99, 3]
        let base = adapterLogits(model, nil, ids), adapted = adapterLogits(model, AdapterUse(adapter), ids)
        let difference = zip(base, adapted).map { maxAbsDifference($0, $1) }.max() ?? 0
        #expect(difference > 1e-2, "\(name) barely changes the logits (\(difference))")
    }

    @Test("greedy continuations through the generator equal PEFT's", arguments: fixtureAdapterNames)
    func greedy(name: String) throws {
        let model = try tinyModel()
        let adapter = try fixtureAdapter(name, model: model)
        let goldens = try Fixtures.json("adapters/\(name)/goldens.json", as: TinyGoldens.self)
        for g in goldens.greedy {
            let out = try generateTogether(model, requests: [(g.promptIDs, AdapterUse(adapter))], maxTokens: g.outputIDs.count)
            #expect(out[0] == g.outputIDs, "\(name), prompt \(g.promptIDs)")
        }
    }

    @Test("kinds, ranks and virtual tokens are read from the config")
    func metadata() throws {
        let model = try tinyModel()
        let expected: [String: (AdapterKind, Int, Int)] = [
            "lora": (.lora, 4, 0), "lora-all": (.lora, 8, 0), "rslora": (.lora, 4, 0), "dora": (.dora, 4, 0),
            "ia3": (.ia3, 0, 0), "prefix": (.prefixTuning, 0, 5), "prefix-proj": (.prefixTuning, 0, 4),
            "prompt": (.promptTuning, 0, 6), "lora-bf16": (.lora, 4, 0),
        ]
        for name in fixtureAdapterNames {
            let adapter = try fixtureAdapter(name, model: model)
            let (kind, rank, virtual) = expected[name]!
            #expect(adapter.kind == kind && adapter.rank == rank && adapter.virtualTokenCount == virtual, "\(name)")
            #expect(adapter.byteCount > 0)
        }
    }

    @Test("rsLoRA scales by alpha/√r and rank_pattern / alpha_pattern pick per-module values")
    func rsLoRAScales() throws {
        let model = try tinyModel()
        let adapter = try fixtureAdapter("rslora", model: model)
        guard case .lowRank(let o)? = adapter.delta(layer: 0, module: .o),
              case .lowRank(let q)? = adapter.delta(layer: 0, module: .q),
              case .lowRank(let down1)? = adapter.delta(layer: 1, module: .down) else {
            Issue.record("rslora lacks its deltas"); return
        }
        #expect(o.rank == 2 && abs(o.scale - 8 / Float(2).squareRoot()) < 1e-6)
        #expect(q.rank == 4 && abs(q.scale - 8 / 2) < 1e-6)
        #expect(abs(down1.scale - 3 / 2) < 1e-6)
        #expect(!adapter.changes(layer: 0, module: .v))
    }
}
