import ArgumentParser
import Foundation
import LoadGenCore

/// Where the server is and how to talk to it.
struct ServerOptions: ParsableArguments {
    @Option(help: "Server address. Only loopback unless you pass another one explicitly.")
    var host = "127.0.0.1"

    @Option(help: "Server port.")
    var port = 8080

    @Option(help: "Seconds before a request (or admin call) counts as a timeout. (default: 120, 30 with --quick)")
    var timeout: Double?

    @Option(help: "Open loop: most requests in flight at once; later sends wait and the wait shows as send lag.")
    var maxInFlight = 512

    @Flag(help: "Open a new connection for every request instead of reusing idle ones.")
    var noKeepAlive = false
}

/// What each request looks like.
struct WorkloadOptions: ParsableArguments {
    @Option(help: "Endpoint: completions (/v1/completions) or chat (/v1/chat/completions).")
    var api: APIKind = .completions

    @Option(help: "Base model name. (default: the first id of GET /v1/models)")
    var model: String?

    @Option(help: "Adapter name pattern; {i} becomes 0, 1, … up to the adapter count.")
    var adapterPattern = "synth-{i}"

    @Option(help: "Explicit comma-separated adapter names (instead of the pattern).", transform: commaList)
    var adapterNames: [String]?

    @Flag(help: "Also send requests to the base model (listed first, so most popular under Zipf).")
    var includeBase = false

    @Option(help: "How requests spread over the model names: single, uniform or zipf:ALPHA (zipf = zipf:1).")
    var popularity = "uniform"

    @Option(help: "Prompt length in tokens: N, uniform:MIN:MAX, normal:MEAN:SD or lognormal:MEDIAN:SIGMA. (default: 128, 16 with --quick)")
    var promptTokens: String?

    @Option(help: "max_tokens per request, same forms as --prompt-tokens. (default: 64, 8 with --quick)")
    var maxTokens: String?

    @Flag(inversion: .prefixedNo, help: "Stream responses (server-sent events); needed for TTFT and ITL.")
    var stream = true

    @Flag(name: .customLong("ignore-eos"), help: "Send ignore_eos so every request generates exactly its max_tokens (the server must support the extension).")
    var ignoreEOS = false

    @Option(help: "Sampling temperature (forced to 0 with --verify).")
    var temperature = 0.0

    @Option(help: "Draw prompts (with their max_tokens) from this many distinct ones; 0 = every request its own. (default: 0, 4 with --verify)")
    var distinctPrompts: Int?

    @Option(help: "Seed of the schedule, the model choice, the prompts and the swaps.")
    var seed: UInt64 = 1
}

/// Greedy-output verification.
struct VerifyOptions: ParsableArguments {
    @Flag(help: "Check greedy outputs under load against expected outputs, token for token (text if no ids).")
    var verify = false

    @Option(help: "Read expected outputs from this JSON file instead of computing them first (implies --verify).")
    var verifyFile: String?

    @Option(help: "Write the expected outputs computed before the load to this JSON file.")
    var verifySave: String?

    var isEnabled: Bool { verify || verifyFile != nil }
}

/// Adapter hot-swapping during the load.
struct SwapOptions: ParsableArguments {
    @Option(help: "Swap events per second while the load runs (each a replace, or an unload then reload).")
    var swap: Double?

    @Option(help: "Directory on the server's machine whose subdirectories are adapters (name = subdirectory).")
    var swapAdapterDir: String?

    @Option(help: "An adapter to swap, NAME=PATH or NAME=PATH1,PATH2 (versions to cycle through). Repeatable.")
    var swapAdapter: [String] = []

    @Option(help: "Milliseconds an unloaded adapter stays unloaded before it is reloaded.")
    var swapUnloadMs = 200.0

    /// The swap configuration, or nil when not swapping.
    func config(seed: UInt64) throws(ConfigError) -> SwapConfig? {
        guard let swap else {
            if swapAdapterDir != nil || !swapAdapter.isEmpty { throw .inconsistent("--swap-adapter-dir/--swap-adapter need --swap RATE") }
            return nil
        }
        var targets = try swapAdapterDir.map { dir throws(ConfigError) in try SwapTargets.fromDirectory(dir) } ?? []
        for argument in swapAdapter { targets.append(try SwapTargets.parse(argument)) }
        return SwapConfig(rate: swap, targets: targets, unloadSeconds: swapUnloadMs / 1000, seed: seed)
    }
}

/// Where results go and what counts as failure.
struct OutputOptions: ParsableArguments {
    @Option(help: "Directory for report.json, report.html and summary.txt. (default: LoadTests/results/<timestamp>)")
    var out: String?

    @Option(help: "Label of the run in the table (run only; sweeps label runs themselves).")
    var label: String?

    @Flag(help: "Exit 0 even if requests or swaps failed (verification mismatches still fail).")
    var allowErrors = false

    @Flag(help: "A small run that finishes in seconds: 20 requests (10 per sweep run), 2 clients, 16-token prompts, 8 tokens out.")
    var quick = false

    @Flag(help: "Do not print the progress line on stderr.")
    var noProgress = false
}

/// Splits "a,b,c" into its non-empty parts.
func commaList(_ text: String) -> [String] {
    text.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

/// Parses "1,8,32" into integers.
func intList(_ text: String) throws -> [Int] {
    try commaList(text).map { part in
        guard let value = Int(part), value >= 0 else { throw ValidationError("'\(part)' is not a non-negative integer") }
        return value
    }
}

/// Parses "0.5,1,2" into positive numbers.
func doubleList(_ text: String) throws -> [Double] {
    try commaList(text).map { part in
        guard let value = Double(part), value > 0, value.isFinite else { throw ValidationError("'\(part)' is not a positive number") }
        return value
    }
}

extension APIKind: ExpressibleByArgument {}
extension BoundMetric: ExpressibleByArgument {}
