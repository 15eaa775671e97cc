import ArgumentParser
import OpenAIAPI

/// `switchboard tenants`: helpers for the tenants file.
struct TenantsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenants", abstract: "Helpers for the tenants file.", subcommands: [HashKeyCommand.self, CheckCommand.self])
}

/// `switchboard tenants hash-key KEY`: the digest to put in the tenants file (keys are never stored).
struct HashKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hash-key", abstract: "Print the SHA-256 hex digest of an API key.")
    @Argument(help: "The API key.")
    var key: String
    func run() { print(sha256Hex(key)) }
}

/// `switchboard tenants check FILE`: validates a tenants file.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Check a tenants file and summarize it.")
    @Argument(help: "The tenants file (JSON).")
    var file: String
    func run() throws {
        let tenants = try TenantsFile.load(path: file)
        print("\(tenants.adminKeysSHA256.count) admin key(s)")
        for t in tenants.tenants {
            print("\(t.name): \(t.keysSHA256.count) key(s); adapters \(t.adapters ?? []), prefixes \(t.adapterPrefixes ?? []); "
                  + "base model \(t.baseModel ?? true); max concurrent \(t.maxConcurrentRequests.map(String.init) ?? "-"); "
                  + "tokens/min \(t.tokensPerMinute.map(String.init) ?? "-")")
        }
    }
}
