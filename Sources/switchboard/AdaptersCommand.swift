import Adapters
import ArgumentParser
import Engine
import Foundation
import Kernels
import ModelFormats

/// `switchboard adapters`: write synthetic adapters, check real ones.
struct AdaptersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapters", abstract: "Create and check PEFT adapters for a base model.",
        subcommands: [SynthCommand.self, InspectCommand.self])
}

extension AdapterKind: ExpressibleByArgument {}
extension FactorPrecision: ExpressibleByArgument {}

/// `switchboard adapters synth`: random adapters in PEFT's format, for benchmarks and load tests.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write random PEFT-format adapters (any kind, rank, targets) that fit a base model.",
        discussion: "Writes OUT/PREFIX0, OUT/PREFIX1, …; with --kind mix the kinds cycle lora, dora, ia3, prefix_tuning, prompt_tuning.")

    @Option(help: "The base model (default: \(defaultModelPath)).")
    var model: String?
    @Option(help: "Directory to write the adapters into.")
    var out: String
    @Option(help: "How many adapters.")
    var count = 1
    @Option(help: "lora, dora, ia3, prefix_tuning, prompt_tuning, or mix.")
    var kind = "lora"
    @Option(help: "LoRA/DoRA rank.")
    var rank = 8
    @Option(help: "Comma-separated target modules (q_proj,…,down_proj) or all-linear.")
    var targets = "q_proj,v_proj"
    @Option(name: .long, help: "Virtual tokens of prefix/prompt tuning adapters.")
    var virtualTokens = 16
    @Option(help: "Folder name prefix.")
    var prefix = "synth-"
    @Option(help: "Seed of the first adapter (the i-th uses seed + i).")
    var seed: UInt64 = 1
    @Option(help: "Size of the random changes (1: subtle; 5-10: clearly different outputs).")
    var strength: Float = 1
    @Option(name: .long, help: "How LoRA/DoRA factors are written: f32, bf16 or f16 (as adapters trained in 16 bits are saved).")
    var factorType = "f32"

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        guard kind == "mix" || AdapterKind(rawValue: kind) != nil else {
            throw ValidationError("--kind must be one of \(AdapterKind.allCases.map(\.rawValue).joined(separator: ", ")), mix")
        }
        guard rank >= 1 && rank <= LowRankLimit.max else { throw ValidationError("--rank must be in 1...\(LowRankLimit.max)") }
        _ = try parsedTargets()
        guard SafetensorsWriter.DType(rawValue: factorType.uppercased()) != nil else {
            throw ValidationError("--factor-type must be f32, bf16 or f16")
        }
    }

    func parsedTargets() throws -> [ProjectionModule] {
        if targets == "all-linear" { return ProjectionModule.allCases }
        return try targets.split(separator: ",").map {
            guard let module = ProjectionModule(rawValue: String($0)) else {
                throw ValidationError("unknown module '\($0)'; use \(ProjectionModule.allCases.map(\.rawValue).joined(separator: ",")) or all-linear")
            }
            return module
        }
    }

    func run() throws {
        let bundle = try ModelBundle.load(path: try resolveModelPath(model))
        let shape = bundle.adapterShape
        let modules = try parsedTargets()
        let cycle: [AdapterKind] = [.lora, .dora, .ia3, .prefixTuning, .promptTuning]
        for i in 0..<count {
            let thisKind = kind == "mix" ? cycle[i % cycle.count] : AdapterKind(rawValue: kind)!
            // IA³'s usual Llama targets are k, v and down (down scaled on its input).
            let thisTargets = thisKind == .ia3 && kind == "mix" ? [.k, .v, .down] : modules
            let spec = SyntheticAdapterSpec(kind: thisKind, rank: rank, targets: thisTargets, virtualTokens: virtualTokens,
                                            seed: seed &+ UInt64(i), strength: strength,
                                            factorType: SafetensorsWriter.DType(rawValue: factorType.uppercased())!)
            let directory = out + "/" + prefix + String(i)
            try AdapterSynthesizer.write(spec, base: shape, weights: bundle.model, baseName: shape.names.last,
                                         to: directory)
            print("\(directory): \(thisKind.rawValue)\(thisKind == .lora || thisKind == .dora ? " r=\(rank)" : "")")
        }
    }
}

/// `switchboard adapters inspect`: loads an adapter against the model and reports it or why it does not fit.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Check that PEFT adapter directories fit the base model, and describe them.")

    @Option(help: "The base model (default: \(defaultModelPath)).")
    var model: String?
    @Argument(help: "Adapter directories.")
    var directories: [String]

    func run() throws {
        let bundle = try ModelBundle.load(path: try resolveModelPath(model))
        var failures = 0
        for directory in directories {
            do {
                let name = URL(fileURLWithPath: directory).lastPathComponent
                let adapter = try bundle.loadAdapter(directory: directory, name: name)
                var details = "\(adapter.kind.rawValue)"
                if adapter.rank > 0 { details += ", rank \(adapter.rank)" }
                if adapter.virtualTokenCount > 0 { details += ", \(adapter.virtualTokenCount) virtual tokens" }
                if !adapter.factorPrecisions.isEmpty {
                    details += ", factors " + adapter.factorPrecisions.map(\.rawValue).joined(separator: "+")
                }
                print("ok    \(directory): \(details), \(adapter.byteCount / 1024) KiB")
            } catch {
                failures += 1
                print("error \(error)")
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }
}

/// The rank limit of the low-rank kernels, for argument checks.
enum LowRankLimit {
    static let max = AdapterLimits(maxRank: .max).maxRank
}
