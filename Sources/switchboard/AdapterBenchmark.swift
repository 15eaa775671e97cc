import Adapters
import Foundation
import Kernels
import Llama

/// Decode speed with adapters, as a ratio to base-only decoding measured in the same run.
///
/// Each pair times the base-only batch and the adapter batch back to back for a few steps, so
/// slow phases of a shared machine hit both halves; the ratio reported is the median of the
/// pairs' ratios. (Pairs of 32 steps, ~1.5 s each, gave ratios ±0.03 apart between runs on the
/// development VM; 21 pairs of 8 steps, ±0.01.) Adapters are synthesized (`AdapterSynthesizer`) into a temporary folder and loaded
/// through the same loader the server uses.
struct AdapterBenchmark {
    let bench: BenchCommand
    let model: LlamaModel

    /// One measured configuration: a label and each row's adapter.
    struct Scenario {
        let label: String
        let uses: [AdapterUse?]

        /// Resident size of the distinct adapters the batch uses. A decode step reads every LoRA
        /// factor of each once, so for LoRA batches this is the adapter traffic per step; it is
        /// what the ratio scales with once the adapters outgrow the caches.
        var distinctAdapterBytes: Int {
            var seen = Set<ObjectIdentifier>()
            return uses.compactMap { $0?.adapter }.reduce(0) { total, adapter in
                seen.insert(ObjectIdentifier(adapter)).inserted ? total + adapter.byteCount : total
            }
        }
    }

    /// The LoRA kernel alone on one decode step's tasks (one row per adapter, every layer and
    /// module), on both cores, next to a plain read of the same factors on both cores. With one
    /// row per adapter the kernel is bound by reading the factors, so the ratio says how close it
    /// comes to the speed this machine streams memory at, whatever that speed is today.
    func kernelRates(_ cases: [(label: String, adapters: [Adapter])]) {
        print("\nLoRA kernel alone: one decode step's tasks on both cores against a plain read of the same factors (median of 9 alternating runs)\n")
        print("| adapters | factor MB | kernel GB/s | read GB/s | ratio |")
        print("|---|---:|---:|---:|---:|")
        for (label, adapters) in cases {
            var modules: [[LowRank.Task]] = []
            var regions: [UnsafeRawBufferPointer] = []
            var widestIn = 0, widestOut = 0
            for layer in 0..<model.config.layerCount {
                for module in ProjectionModule.allCases {
                    var tasks: [LowRank.Task] = []
                    for (row, adapter) in adapters.enumerated() {
                        guard case .lowRank(let d)? = adapter.delta(layer: layer, module: module) else { continue }
                        tasks.append(LowRank.task(firstRow: row, rows: 1, rank: d.rank, inFeatures: d.inFeatures,
                                                  outFeatures: d.outFeatures, yOffset: 0, a: d.a.pointer,
                                                  bTransposed: d.bTransposed.pointer, precision: d.a.precision,
                                                  scale: d.scale, gain: nil, gainWeight: 0))
                        regions.append(UnsafeRawBufferPointer(start: d.a.pointer, count: d.a.byteCount))
                        regions.append(UnsafeRawBufferPointer(start: d.bTransposed.pointer, count: d.bTransposed.byteCount))
                        widestIn = max(widestIn, d.inFeatures)
                        widestOut = max(widestOut, d.outFeatures)
                    }
                    if !tasks.isEmpty { modules.append(tasks) }
                }
            }
            let bytes = Double(regions.reduce(0) { $0 + $1.count })
            let x = FloatBuffer((0..<adapters.count * widestIn).map { Float($0 % 13) * 0.01 })
            let y = FloatBuffer(count: adapters.count * widestOut)
            var kernelSamples: [Double] = [], readSamples: [Double] = []
            withExtendedLifetime(adapters) {
                for _ in 0..<9 {
                    var start = now()
                    for tasks in modules {
                        tasks.withUnsafeBufferPointer { LowRank.apply($0, x: x.pointer, ldx: widestIn, y: y.pointer, ldy: widestOut) }
                    }
                    kernelSamples.append(bytes / (now() - start) / 1e9)
                    start = now()
                    _ = Ops.streamRead(regions)
                    readSamples.append(bytes / (now() - start) / 1e9)
                }
            }
            let kernel = median(kernelSamples), read = median(readSamples)
            print(String(format: "| %@ | %.1f | %.1f | %.1f | %.2f |", label, bytes / 1e6, kernel, read, kernel / read))
        }
    }

    func run() throws {
        let folder = NSTemporaryDirectory() + "switchboard-bench-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let shape = model.adapterShape
        func make(_ count: Int, _ label: String, _ spec: (Int) -> SyntheticAdapterSpec) throws -> [Adapter] {
            try (0..<count).map { i in
                let directory = "\(folder)/\(label)-\(i)"
                try AdapterSynthesizer.write(spec(i), base: shape, weights: model, baseName: nil, to: directory)
                return try AdapterLoader.load(directory: directory, name: "\(label)-\(i)", base: shape, weights: model)
            }
        }
        let loadStart = now()
        let qv8 = try make(64, "qv8") { SyntheticAdapterSpec(kind: .lora, rank: 8, targets: [.q, .v], seed: UInt64($0)) }
        let all16 = try make(64, "all16") {
            SyntheticAdapterSpec(kind: .lora, rank: 16, targets: ProjectionModule.allCases, seed: 100 + UInt64($0))
        }
        // As adapters trained in bf16 are saved: their factors stay bf16 in memory, exactly.
        let all16Bf16 = try make(32, "all16bf16") {
            SyntheticAdapterSpec(kind: .lora, rank: 16, targets: ProjectionModule.allCases, seed: 100 + UInt64($0),
                                 factorType: .bf16)
        }
        let kinds: [AdapterKind] = [.lora, .dora, .ia3, .prefixTuning, .promptTuning]
        let mixed = try make(32, "mix") { i in
            let kind = kinds[i % kinds.count]
            return SyntheticAdapterSpec(kind: kind, rank: 8, targets: kind == .ia3 ? [.k, .v, .down] : [.q, .v],
                                        virtualTokens: 16, seed: 200 + UInt64(i))
        }
        /// The same adapters loaded again with binary16 factors.
        func halved(_ adapters: [Adapter]) throws -> [Adapter] {
            try adapters.map {
                try AdapterLoader.load(directory: $0.source, name: $0.name, base: shape, weights: model,
                                       limits: AdapterLimits(precision: .f16))
            }
        }
        let qv8Half = try halved(qv8), all16Half = try halved(all16), mixedHalf = try halved(mixed)
        print(String(format: "\nAdapters: synthesized and loaded %d in %.1f s (decode after %d positions; ratio = base-only time / adapter time, median of %d pairs of %d-step runs)",
                     qv8.count + all16.count + all16Bf16.count + mixed.count, now() - loadStart, bench.decodeContext, bench.adapterPairs,
                     bench.adapterPairSteps))

        kernelRates([("32 distinct r=16 all-linear, f32", Array(all16.prefix(32))),
                     ("32 distinct r=16 all-linear, f16", Array(all16Half.prefix(32))),
                     ("32 distinct r=16 all-linear, saved in bf16", all16Bf16)])

        /// Rows 0..<batch using `distinct` adapters of `pool` round-robin, grouped by adapter.
        func rows(_ batch: Int, _ pool: [Adapter], distinct: Int) -> [AdapterUse?] {
            (0..<batch).map { AdapterUse(pool[$0 * distinct / batch]) }
        }
        var scenarios = [
            Scenario(label: "batch 32: one LoRA r=8 (q,v) on every row", uses: rows(32, qv8, distinct: 1)),
            Scenario(label: "batch 32: 32 distinct LoRAs r=8 (q,v)", uses: rows(32, qv8, distinct: 32)),
            Scenario(label: "batch 32: 32 distinct LoRAs r=16 all-linear", uses: rows(32, all16, distinct: 32)),
            Scenario(label: "batch 32: 32 distinct, five kinds (LoRA, DoRA, IA³, prefix, prompt)", uses: rows(32, mixed, distinct: 32)),
            Scenario(label: "batch 32: 32 distinct LoRAs r=8 (q,v), f16 factors", uses: rows(32, qv8Half, distinct: 32)),
            Scenario(label: "batch 32: 32 distinct LoRAs r=16 all-linear, f16 factors", uses: rows(32, all16Half, distinct: 32)),
            Scenario(label: "batch 32: 32 distinct LoRAs r=16 all-linear, saved in bf16 (kept exactly)",
                     uses: rows(32, all16Bf16, distinct: 32)),
            Scenario(label: "batch 32: 32 distinct, five kinds, f16 factors", uses: rows(32, mixedHalf, distinct: 32)),
        ]
        for distinct in [1, 4, 16, 64] {
            scenarios.append(Scenario(label: "batch 64: \(distinct) distinct LoRAs r=8 (q,v)", uses: rows(64, qv8, distinct: distinct)))
        }
        for distinct in [1, 4, 16, 64] {
            scenarios.append(Scenario(label: "batch 64: \(distinct) distinct LoRAs r=16 all-linear", uses: rows(64, all16, distinct: distinct)))
        }
        scenarios.append(Scenario(label: "batch 64: 64 distinct LoRAs r=16 all-linear, f16 factors", uses: rows(64, all16Half, distinct: 64)))

        let virtual = mixed.map(\.virtualTokenCount).max() ?? 0
        let steps = bench.adapterPairSteps
        let cache = PagedKVCache(config: model.config, blockCount: 64 * ((bench.decodeContext + virtual + steps) / 16 + 2))
        let baseRows = { (batch: Int) in [AdapterUse?](repeating: nil, count: batch) }
        print("\n| adapters | adapter MB | tokens/s | base-only tokens/s | ratio to base-only |")
        print("|---|---:|---:|---:|---:|")
        for scenario in scenarios where bench.adapterScenario.map(scenario.label.contains) ?? true {
            let batch = scenario.uses.count
            var ratios: [Double] = [], adapterTimes: [Double] = [], baseTimes: [Double] = []
            for _ in 0..<bench.adapterPairs {
                let base = bench.timeDecode(model, uses: baseRows(batch), steps: steps, cache: cache)
                let adapted = bench.timeDecode(model, uses: scenario.uses, steps: steps, cache: cache)
                baseTimes.append(base)
                adapterTimes.append(adapted)
                ratios.append(base / adapted)
            }
            let tokens = Double(batch * steps)
            print(String(format: "| %@ | %.1f | %.0f | %.0f | %.3f |", scenario.label,
                         Double(scenario.distinctAdapterBytes) / 1e6, tokens / median(adapterTimes),
                         tokens / median(baseTimes), median(ratios)))
        }
    }
}
