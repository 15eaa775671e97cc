import ArgumentParser
import LoadGenCore

/// The `loadgen` command: a load generator for Switchboard's OpenAI-compatible API.
@main
struct LoadGen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadgen",
        abstract: "Load generator for Switchboard's OpenAI-compatible HTTP API.",
        discussion: """
        Sends completions or chat requests over HTTP/1.1 to 127.0.0.1 (or --host), in closed loop \
        (--concurrency clients) or open loop (--rate Poisson arrivals per second), and reports \
        requests/s, tokens/s, TTFT, inter-token and end-to-end latency percentiles and errors. \
        Exit status: 0 clean, 1 requests or swaps failed (unless --allow-errors) or the server \
        could not be reached, 2 verification mismatches, 64 invalid options.
        """,
        subcommands: [RunCommand.self, SweepCommand.self],
        defaultSubcommand: RunCommand.self)
}
