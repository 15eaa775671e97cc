import Foundation

/// Picks the next token of one sequence from its logits.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var random: RandomStream
    /// How often each token has been generated (for presence/frequency penalties).
    private var counts: [Int: Int] = [:]
    private var candidates: [(id: Int, logit: Float)] = []

    /// A sampler for one sequence.
    public init(parameters: SamplingParameters) {
        self.parameters = parameters
        random = RandomStream(seed: parameters.seed ?? UInt64.random(in: .min ... .max))
    }

    /// Records a generated token (penalties look at these).
    public mutating func observe(_ token: Int) { counts[token, default: 0] += 1 }

    /// The next token. Greedy ties go to the lowest id, as torch.argmax does.
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> Int {
        let p = parameters
        let penalized = p.presencePenalty != 0 || p.frequencyPenalty != 0
        func adjusted(_ id: Int) -> Float {
            guard penalized, let n = counts[id] else { return logits[id] }
            return logits[id] - p.presencePenalty - p.frequencyPenalty * Float(n)
        }
        if p.isGreedy {
            var best = 0
            var bestValue = -Float.infinity
            if penalized {
                for i in 0..<logits.count where adjusted(i) > bestValue { best = i; bestValue = adjusted(i) }
            } else {
                for i in 0..<logits.count where logits[i] > bestValue { best = i; bestValue = logits[i] }
            }
            return best
        }

        // Candidates sorted by logit, cut by top-k, then softmax at the temperature and top-p.
        candidates.removeAll(keepingCapacity: true)
        for i in 0..<logits.count { candidates.append((i, adjusted(i))) }
        candidates.sort { $0.logit > $1.logit || ($0.logit == $1.logit && $0.id < $1.id) }
        if p.topK > 0 && p.topK < candidates.count { candidates.removeSubrange(p.topK...) }
        let top = candidates[0].logit
        var weights = candidates.map { expf(($0.logit - top) / p.temperature) }
        let total = weights.reduce(0, +)
        for i in weights.indices { weights[i] /= total }
        var keep = weights.count
        if p.topP < 1 {
            var cumulative: Float = 0
            for (i, w) in weights.enumerated() {
                cumulative += w
                if cumulative >= p.topP { keep = i + 1; break }
            }
        }
        let mass = weights[..<keep].reduce(0, +)
        var u = random.nextUnit() * mass
        for i in 0..<keep {
            u -= weights[i]
            if u < 0 { return candidates[i].id }
        }
        return candidates[keep - 1].id
    }
}

