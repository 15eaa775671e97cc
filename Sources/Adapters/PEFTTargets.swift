import Foundation

/// Which modules of the base model a LoRA or IA³ config adapts, with what rank and scale —
/// decided exactly as PEFT 0.21 decides it, from the module's key (its path in the HF model,
/// e.g. `model.layers.3.self_attn.q_proj`).
public struct PEFTTargets: Sendable {
    public let config: PEFTConfig
    public let file: String

    /// Rules for `config` read from `file` (named in errors).
    public init(config: PEFTConfig, file: String) {
        self.config = config
        self.file = file
    }

    /// Whether the module at `key` gets an adapter. Mirrors PEFT's `check_target_module_exists`:
    /// exclusions first; a string selector is a regex over the whole key; a list matches a key
    /// equal to an entry or ending in ".entry", then `layers_to_transform` filters by layer index.
    /// "all-linear" selects every linear projection (the caller passes only those).
    public func isTarget(_ key: String) throws -> Bool {
        if let exclude = config.excludeModules, try selects(exclude, key) { return false }
        if let saved = config.modulesToSave, !saved.isEmpty {
            for module in saved where try regexMatches("(^|.*\\.)\(module)($|\\..*)", key, whole: true) { return false }
        }
        guard let targets = config.targetModules else { return false }
        switch targets {
        case .string("all-linear"):
            return try layerAllowed(key)
        case .string(let pattern):
            return try regexMatches(pattern, key, whole: true)
        case .list(let names):
            guard names.contains(key) || names.contains(where: { key.hasSuffix("." + $0) }) else { return false }
            return try layerAllowed(key)
        }
    }

    /// IA³: whether `key` scales its input (a feed-forward module) rather than its output.
    /// PEFT matches list entries by plain suffix here (no dot).
    public func isFeedForward(_ key: String) throws -> Bool {
        switch config.feedforwardModules {
        case nil: return false
        case .string(let pattern)?: return try regexMatches(pattern, key, whole: true)
        case .list(let names)?: return names.contains { key.hasSuffix($0) }
        }
    }

    /// LoRA rank of `key`: the first `rank_pattern` entry whose pattern ends the key, else `r`.
    /// (PEFT tries entries in the JSON's order; a Swift dictionary has none, so entries are tried
    /// in sorted order: the same unless two patterns match one key.)
    public func rank(_ key: String) throws -> Int {
        if let patterns = config.rankPattern, let hit = try patternKey(patterns.keys.sorted(), key) { return patterns[hit]! }
        return config.r ?? 8
    }

    /// LoRA alpha of `key`: the first `alpha_pattern` entry whose pattern ends the key, else `lora_alpha`.
    public func alpha(_ key: String) throws -> Double {
        if let patterns = config.alphaPattern, let hit = try patternKey(patterns.keys.sorted(), key) { return patterns[hit]! }
        return config.loraAlpha ?? 8
    }

    /// LoRA scale of `key`: alpha / r, or alpha / √r with rsLoRA.
    public func scale(_ key: String) throws -> Double {
        let r = Double(try rank(key)), a = try alpha(key)
        return (config.useRslora ?? false) ? a / r.squareRoot() : a / r
    }

    // MARK: - PEFT's matching rules

    /// A selector (`exclude_modules`): regex over the whole key, or list entry equal to / ending the key.
    private func selects(_ selector: StringOrList, _ key: String) throws -> Bool {
        switch selector {
        case .string(let pattern): return try regexMatches(pattern, key, whole: true)
        case .list(let names): return names.contains(key) || names.contains { key.hasSuffix("." + $0) }
        }
    }

    /// `layers_to_transform`: the key's layer index (the first number after a `layers_pattern`
    /// segment, or after any segment when no pattern is given) must be selected.
    private func layerAllowed(_ key: String) throws -> Bool {
        guard let selection = config.layersToTransform, !selection.isEmpty else { return true }
        var patterns: [String] = []
        switch config.layersPattern {
        case .string(let p)?: patterns = p.isEmpty ? [] : [p]
        case .list(let ps)?: patterns = ps
        case nil: break
        }
        let candidates = patterns.isEmpty ? [#".*?\.[^.]*\.(\d+)\."#] : patterns.map { #"(?:^|.*?\.)"# + $0 + #"\.(\d+)\."# }
        for candidate in candidates {
            if let index = try firstCapture(candidate, key).flatMap(Int.init) { return selection.contains(index) }
        }
        return false
    }

    /// PEFT's `get_pattern_key`: the first pattern p for which `(.*\.)?(p)$` matches the key.
    private func patternKey(_ patterns: [String], _ key: String) throws -> String? {
        for pattern in patterns where try regexMatches("(.*\\.)?(\(pattern))$", key, whole: false) { return pattern }
        return nil
    }

    /// Python `re.fullmatch` (whole) or `re.match` anchored at the start (not whole).
    private func regexMatches(_ pattern: String, _ key: String, whole: Bool) throws -> Bool {
        let regex = try compile(whole ? "^(?:\(pattern))$" : "^(?:\(pattern))")
        return regex.firstMatch(in: key, range: NSRange(key.startIndex..., in: key)) != nil
    }

    private func firstCapture(_ pattern: String, _ key: String) throws -> String? {
        let regex = try compile("^(?:\(pattern))")
        guard let match = regex.firstMatch(in: key, range: NSRange(key.startIndex..., in: key)),
              let range = Range(match.range(at: 1), in: key) else { return nil }
        return String(key[range])
    }

    private func compile(_ pattern: String) throws -> NSRegularExpression {
        do { return try NSRegularExpression(pattern: pattern) } catch {
            throw AdapterError.invalidPattern(file: file, pattern: pattern)
        }
    }
}
