import Testing
import Engine

/// Samples `count` tokens from fixed logits with `parameters`.
func draws(_ logits: [Float], _ parameters: SamplingParameters, count: Int) -> [Int] {
    var sampler = Sampler(parameters: parameters)
    return logits.withUnsafeBufferPointer { buffer in (0..<count).map { _ in sampler.sample(buffer) } }
}

@Suite("Sampling")
struct SamplerTests {
    let logits: [Float] = [1.0, 3.0, 2.5, -1.0, 3.0, 0.0]

    @Test("greedy picks the largest logit; ties go to the lowest id like torch.argmax")
    func greedy() {
        #expect(draws(logits, SamplingParameters(), count: 3) == [1, 1, 1])
    }

    @Test("the same seed gives the same tokens; another seed gives others")
    func seeded() {
        var p = SamplingParameters()
        p.temperature = 1.5
        p.seed = 42
        let a = draws(logits, p, count: 50), b = draws(logits, p, count: 50)
        p.seed = 43
        let c = draws(logits, p, count: 50)
        #expect(a == b)
        #expect(a != c)
    }

    @Test("top-k 2 only ever yields the two best tokens")
    func topK() {
        var p = SamplingParameters()
        p.temperature = 5
        p.topK = 2
        p.seed = 1
        #expect(Set(draws(logits, p, count: 200)).isSubset(of: [1, 4]))
    }

    @Test("top-p keeps the smallest set reaching p")
    func topP() {
        // Probabilities ≈ [0.66, 0.24, 0.09, …]: p = 0.8 keeps ids 0 and 1 only.
        let skewed: [Float] = [3, 2, 1, -2, -3]
        var p = SamplingParameters()
        p.temperature = 1
        p.topP = 0.8
        p.seed = 7
        let seen = Set(draws(skewed, p, count: 300))
        #expect(seen == [0, 1])
    }

    @Test("temperature sampling follows the softmax distribution")
    func distribution() {
        let two: [Float] = [0, logf(3)]   // probabilities 1/4 and 3/4
        var p = SamplingParameters()
        p.temperature = 1
        p.seed = 3
        let ones = draws(two, p, count: 4000).filter { $0 == 1 }.count
        #expect(abs(Double(ones) / 4000 - 0.75) < 0.03)
    }

    @Test("frequency and presence penalties push repeated tokens down")
    func penalties() {
        var p = SamplingParameters()
        p.frequencyPenalty = 1.0
        var sampler = Sampler(parameters: p)
        let close: [Float] = [2.0, 1.5]
        let first = close.withUnsafeBufferPointer { sampler.sample($0) }
        sampler.observe(first)
        let second = close.withUnsafeBufferPointer { sampler.sample($0) }
        #expect(first == 0 && second == 1)
    }
}

import Foundation
