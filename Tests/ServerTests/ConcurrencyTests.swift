import Foundation
import Testing
import TestSupport

/// Sends `bodies` to /v1/completions, all at once from separate threads (or one by one), and
/// returns each response's generated token ids.
func completions(_ server: TestServer, _ bodies: [[String: Any]], concurrently: Bool) -> [[Int]?] {
    let results = ResultBox(count: bodies.count)
    let texts = bodies.map { String(decoding: try! JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
    let run: @Sendable (Int) -> Void = { i in
        guard let response = try? server.call("POST", "/v1/completions", body: texts[i]), response.status == 200 else { return }
        results.set(i, (response.json["choices"] as? [[String: Any]])?.first?["token_ids"] as? [Int])
    }
    if concurrently {
        DispatchQueue.concurrentPerform(iterations: bodies.count, execute: run)
    } else {
        for i in bodies.indices { run(i) }
    }
    return results.values
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [[Int]?]
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: [Int]?) { lock.withLock { storage[i] = value } }
    var values: [[Int]?] { lock.withLock { storage } }
}

extension ServerSuites {
    @Suite("Continuous batching over HTTP", .enabled(if: Fixtures.hasSmolLM2))
    struct ConcurrencyTests {
        @Test("64 concurrent greedy requests over the base and every adapter kind equal the same requests one by one")
        func concurrentEqualsSequential() throws {
            let server = try TestServer()
            let models = [baseModelID] + sharedAdapterNames
            let topics = ["the sea", "a robot", "music", "winter", "bread", "the moon", "trains", "a garden"]
            let bodies: [[String: Any]] = (0..<64).map { i in
                ["model": models[i % models.count], "prompt": "Write one sentence about \(topics[i % topics.count]).",
                 "max_tokens": 12 + i % 5, "temperature": 0, "return_token_ids": true]
            }
            let together = completions(server, bodies, concurrently: true)
            let alone = completions(server, bodies, concurrently: false)
            #expect(together.allSatisfy { $0 != nil } && alone.allSatisfy { $0 != nil })
            for i in bodies.indices {
                #expect(together[i] == alone[i], "request \(i) (\(bodies[i]["model"]!))")
            }
            let snapshot = server.waitUntilIdle()
            #expect(snapshot.kvBlocksUsed == 0)
        }
    }
}
