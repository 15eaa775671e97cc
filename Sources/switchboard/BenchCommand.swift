import Adapters
import ArgumentParser
import Foundation
import Kernels
import Llama

/// `switchboard bench`: engine speed on one model, measured in one run so ratios are fair.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure sgemm, prefill and batched decode speed of the engine.")

    @Option(help: "A .gguf file or a Hugging Face model directory (default: \(defaultModelPath)).")
    var model: String?
    @Option(help: "Repetitions per measurement; the median is reported.")
    var repeats = 5
    @Option(name: .long, parsing: .upToNextOption, help: "Decode batch sizes.")
    var batchSizes: [Int] = [1, 8, 32, 64]
    @Option(name: .long, parsing: .upToNextOption, help: "Prefill prompt lengths.")
    var promptLengths: [Int] = [128, 512]
    @Option(name: .long, help: "Context already in the cache of each decoding sequence.")
    var decodeContext = 128
    @Option(name: .long, help: "Decode steps timed per repetition.")
    var decodeSteps = 16
    @Option(name: .long, help: "Most rows a step multiplies straight from quantized weights (0: always f32 sgemm; default: all with AVX-512, 96 without).")
    var quantizedRowLimit: Int?
    @Flag(name: .long, inversion: .prefixedNo, help: "Also measure decoding with adapters (ratios to base-only in the same run).")
    var adapters = true
    @Option(name: .long, help: "Run only the adapter scenarios whose label contains this text.")
    var adapterScenario: String?
    @Option(name: .long, help: "Paired runs (base-only, then with adapters) per adapter scenario; the median ratio is reported.")
    var adapterPairs = 21
    @Option(name: .long, help: "Decode steps timed per run of an adapter pair (short runs: a shared machine's slow phases last seconds, so both halves of a short pair see the same machine).")
    var adapterPairSteps = 8
    @Option(name: .long, help: "Also run the server's closed-loop workload through the engine with this many sequences (0: skip).")
    var servingClients = 0
    @Option(name: .long, parsing: .upToNextOption, help: "Prompt and output tokens of each sequence in that workload.")
    var servingLengths: [Int] = [128, 128]
    @Option(name: .long, help: "Seconds that workload is measured (after 5 s of warm-up).")
    var servingSeconds = 20.0

    func run() throws {
        if let quantizedRowLimit { Projection.quantizedRowLimit = quantizedRowLimit }
        print("quantized weights used for steps of up to \(Projection.quantizedRowLimit == Int.max ? "any number of" : String(Projection.quantizedRowLimit)) rows")
        let loadStart = now()
        let llama = try LlamaModel.load(path: try resolveModelPath(model))
        let loadSeconds = now() - loadStart
        let c = llama.config
        print("model: \(c.name) — \(c.layerCount) layers, hidden \(c.hiddenSize), \(c.headCount)/\(c.kvHeadCount) heads, vocab \(c.vocabularySize)")
        print(String(format: "load: %.2f s; weights %.0f MiB (f32); resident memory after load %.0f MiB",
                     loadSeconds, Double(llama.weights.byteCount) / 1_048_576, residentMiB()))
        print("kernel threads (OpenBLAS runs single-threaded inside them): \(ProcessInfo.processInfo.activeProcessorCount)")

        // The machine's own sgemm speed, for model FLOP utilization.
        let peak = measureSgemm(rows: 512, inFeatures: c.hiddenSize, outFeatures: 2 * c.intermediateSize)
        let mid = measureSgemm(rows: 32, inFeatures: c.hiddenSize, outFeatures: 2 * c.intermediateSize)
        let single = measureSgemm(rows: 1, inFeatures: c.hiddenSize, outFeatures: 2 * c.intermediateSize)
        print(String(format: "sgemm [N×%d]·[%d×%d]: N=512 %.1f GFLOP/s, N=32 %.1f GFLOP/s, N=1 %.1f GFLOP/s",
                     c.hiddenSize, c.hiddenSize, 2 * c.intermediateSize, peak, mid, single))

        // Decode runs the output head for every token; prefill only for the prompt's last.
        let flopsPerToken = Self.matmulFlopsPerToken(c)
        let headFlops = 2 * Double(c.vocabularySize * c.hiddenSize)
        print("\nGFLOP/s counts the projections' and output head's multiply-adds (attention excluded);")
        print("The last column divides that rate by the OpenBLAS sgemm N=512 rate above (the machine's f32 BLAS speed).")
        print("\n| measurement | tokens/s | ms/step | GFLOP/s | ratio to OpenBLAS sgemm N=512 |")
        print("|---|---:|---:|---:|---:|")
        for length in promptLengths where length < c.contextLength {
            let seconds = median((0..<repeats).map { _ in timePrefill(llama, length: length) })
            let rate = Double(length) / seconds
            let gflops = (Double(length) * (flopsPerToken - headFlops) + headFlops) / seconds / 1e9
            print(String(format: "| prefill %d tokens | %.0f | %.1f | %.1f | %.0f%% |", length, rate, seconds * 1e3, gflops, 100 * gflops / peak))
        }
        for batch in batchSizes {
            let seconds = median((0..<repeats).map { _ in timeDecode(llama, batch: batch) })
            let rate = Double(batch * decodeSteps) / seconds
            let gflops = rate * flopsPerToken / 1e9
            print(String(format: "| decode batch %d (context %d) | %.0f | %.2f | %.1f | %.0f%% |", batch, decodeContext, rate,
                         seconds * 1e3 / Double(decodeSteps), gflops, 100 * gflops / peak))
        }
        if servingClients > 0 {
            guard servingLengths.count == 2, servingLengths.allSatisfy({ $0 > 0 }) else {
                throw ValidationError("--serving-lengths takes two positive numbers: prompt and output tokens")
            }
            let result = try ServingBenchmark(model: llama, clients: servingClients, promptLength: servingLengths[0],
                                              outputLength: servingLengths[1], maxStepTokens: 512, warmupSeconds: 5,
                                              seconds: servingSeconds).run()
            print(String(format: "| serving workload: %d sequences, %d-token prompts, %d generated (%.0f tokens/step) | %.0f | | | |",
                         servingClients, servingLengths[0], servingLengths[1], result.meanStepTokens, result.tokensPerSecond))
            print(String(format: "\nserving workload: %.2f requests/s, %.0f generated tokens/s (prefill included)",
                         result.requestsPerSecond, result.tokensPerSecond))
        }
        if adapters { try AdapterBenchmark(bench: self, model: llama).run() }
        print(String(format: "\nresident memory at end: %.0f MiB", residentMiB()))
    }

    /// 2·(weights of every projection and the output head): the FLOPs of one token's matmuls.
    static func matmulFlopsPerToken(_ c: LlamaConfig) -> Double {
        let perLayer = c.hiddenSize * (c.queryDim + 2 * c.kvDim) + c.queryDim * c.hiddenSize + 3 * c.hiddenSize * c.intermediateSize
        return 2 * Double(perLayer * c.layerCount + c.vocabularySize * c.hiddenSize)
    }

    /// One full prompt through the model (one chunk, logits for the last row).
    func timePrefill(_ llama: LlamaModel, length: Int) -> Double {
        let cache = PagedKVCache(config: llama.config, blockCount: length / 16 + 2)
        var table: [Int32] = []
        _ = cache.reserve(&table, tokens: length)
        let tokens = (0..<length).map { Int32(($0 * 7919 + 13) % llama.config.vocabularySize) }
        let start = now()
        _ = llama.forward([ForwardChunk(tokens: tokens, firstPosition: 0, blockTable: table, logitRows: .last)], cache: cache)
        return now() - start
    }

    /// `batch` sequences, each with `decodeContext` tokens cached, decoding `decodeSteps` tokens together.
    func timeDecode(_ llama: LlamaModel, batch: Int) -> Double {
        let context = decodeContext
        let cache = PagedKVCache(config: llama.config, blockCount: batch * ((context + decodeSteps) / 16 + 2))
        var tables = [[Int32]](repeating: [], count: batch)
        for b in 0..<batch {
            _ = cache.reserve(&tables[b], tokens: context + decodeSteps)
        }
        // Fill the caches (not timed); the prompts' content doesn't matter for speed.
        for b in 0..<batch {
            let tokens = (0..<context).map { Int32(($0 * 31 + b * 101) % llama.config.vocabularySize) }
            _ = llama.forward([ForwardChunk(tokens: tokens, firstPosition: 0, blockTable: tables[b], logitRows: .none)], cache: cache)
        }
        var next = [Int32](repeating: 1, count: batch)
        let start = now()
        for step in 0..<decodeSteps {
            let chunks = (0..<batch).map {
                ForwardChunk(tokens: [next[$0]], firstPosition: context + step, blockTable: tables[$0], logitRows: .last)
            }
            let logits = llama.forward(chunks, cache: cache)
            for b in 0..<batch { next[b] = Int32(argmax(logits.row(b))) }
        }
        return now() - start
    }

    /// One sequence per entry of `uses` (its adapter, or nil for the base) decoding `steps`
    /// tokens together after `decodeContext` positions (plus the adapter's virtual tokens). The
    /// cache is not filled first: attention does the same work whatever the cached values are,
    /// and filling 64 sequences would take longer than the measurement. Prefix-tuning rows get
    /// their prefix written, as the generator does. Rows come grouped by adapter, as the
    /// generator orders them.
    func timeDecode(_ llama: LlamaModel, uses: [AdapterUse?], steps: Int, cache: PagedKVCache) -> Double {
        let batch = uses.count
        var tables = [[Int32]](repeating: [], count: batch)
        defer { for b in 0..<batch { cache.release(&tables[b]) } }
        var first = [Int](repeating: decodeContext, count: batch)
        for b in 0..<batch {
            let virtual = uses[b]?.adapter.virtualTokenCount ?? 0
            first[b] += virtual
            guard cache.reserve(&tables[b], tokens: first[b] + steps) else { fatalError("bench cache too small") }
            if let adapter = uses[b]?.adapter, adapter.prefixKV != nil {
                llama.writePrefix(of: adapter, blockTable: tables[b], cache: cache)
            }
        }
        var next = [Int32](repeating: 1, count: batch)
        let start = now()
        for step in 0..<steps {
            let chunks = (0..<batch).map {
                ForwardChunk(tokens: [next[$0]], firstPosition: first[$0] + step, blockTable: tables[$0], logitRows: .last,
                             adapter: uses[$0])
            }
            let logits = llama.forward(chunks, cache: cache)
            for b in 0..<batch { next[b] = Int32(argmax(logits.row(b))) }
        }
        return now() - start
    }

    func measureSgemm(rows: Int, inFeatures: Int, outFeatures: Int) -> Double {
        let x = FloatBuffer(count: rows * inFeatures), w = FloatBuffer(count: outFeatures * inFeatures)
        let y = FloatBuffer(count: rows * outFeatures)
        for i in 0..<x.count { x.pointer[i] = Float(i % 7) * 0.1 }
        for i in 0..<w.count { w.pointer[i] = Float(i % 5) * 0.1 }
        // About 4 GFLOP per repetition, after one warm-up call (wakes OpenBLAS's threads).
        let iterations = max(4, 4_000_000_000 / (2 * rows * inFeatures * outFeatures))
        Gemm.xwt(rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, x: x.pointer, ldx: inFeatures,
                 w: w.pointer, ldw: inFeatures, y: y.pointer, ldy: outFeatures)
        let times = (0..<repeats).map { _ -> Double in
            let start = now()
            for _ in 0..<iterations {
                Gemm.xwt(rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, x: x.pointer, ldx: inFeatures,
                         w: w.pointer, ldw: inFeatures, y: y.pointer, ldy: outFeatures)
            }
            return (now() - start) / Double(iterations)
        }
        return 2 * Double(rows * inFeatures * outFeatures) / median(times) / 1e9
    }
}

func argmax(_ values: UnsafeBufferPointer<Float>) -> Int {
    var best = 0
    for i in 1..<values.count where values[i] > values[best] { best = i }
    return best
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

/// Resident set size of this process, from /proc/self/status.
func residentMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kb / 1024
}
