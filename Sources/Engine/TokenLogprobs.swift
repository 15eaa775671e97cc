import Foundation

/// Log-probabilities of a sampled token and of the most likely alternatives, from the model's
/// raw distribution (log-softmax of the logits, before temperature and penalties), as OpenAI's
/// `logprobs` report them.
public struct TokenLogprobs: Sendable, Equatable {
    /// log p(chosen token).
    public let logprob: Float
    /// The `top` most likely tokens with their log-probabilities, most likely first.
    public let top: [(token: Int, logprob: Float)]

    /// Computes them from one row of logits.
    public init(logits: UnsafeBufferPointer<Float>, chosen: Int, top count: Int) {
        var largest = -Float.infinity
        for value in logits where value > largest { largest = value }
        var sum: Double = 0
        for value in logits { sum += Double(expf(value - largest)) }
        let logNormalizer = largest + Float(log(sum))
        logprob = logits[chosen] - logNormalizer
        // Keep the best `count` in a small sorted list: one pass, no full sort of the vocabulary.
        var best: [(token: Int, logit: Float)] = []
        if count > 0 {
            best.reserveCapacity(count + 1)
            for (token, value) in logits.enumerated() where best.count < count || value > best[best.count - 1].logit {
                let position = best.firstIndex { value > $0.logit } ?? best.count
                best.insert((token, value), at: position)
                if best.count > count { best.removeLast() }
            }
        }
        top = best.map { ($0.token, $0.logit - logNormalizer) }
    }

    public static func == (a: TokenLogprobs, b: TokenLogprobs) -> Bool {
        a.logprob == b.logprob && a.top.map(\.token) == b.top.map(\.token) && a.top.map(\.logprob) == b.top.map(\.logprob)
    }
}
