import ArgumentParser
import Foundation
import Logging

/// The `switchboard` command line.
@main
struct Switchboard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "A multi-adapter LLM inference engine for Llama-family models.",
        subcommands: [ServeCommand.self, GenerateCommand.self, AdaptersCommand.self, TenantsCommand.self, BenchCommand.self])
}

/// Where the default model lives (fetched by `make model`).
let defaultModelPath = "models/SmolLM2-135M-Instruct.Q4_1.gguf"

/// Logs go to stderr so stdout carries only generated text.
func makeLogger(_ label: String) -> Logger {
    LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
    return Logger(label: label)
}

/// The model path the user gave, or the default one, with a hint when it is missing.
func resolveModelPath(_ given: String?) throws -> String {
    let path = given ?? defaultModelPath
    guard FileManager.default.fileExists(atPath: path) else {
        throw ValidationError(given == nil
            ? "the default model \(path) is missing: run `make model` first, or pass --model PATH"
            : "no model at \(path)")
    }
    return path
}

/// Monotonic seconds.
func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
