import Adapters
import Foundation
import Testing
import TestSupport

/// Counts outcomes from many threads.
final class Outcomes: @unchecked Sendable {
    private let lock = NSLock()
    var completed = 0, notFound = 0, mismatched: [String] = [], failures: [String] = []
    func record(_ body: (Outcomes) -> Void) { lock.withLock { body(self) } }
}

extension ServerSuites {
    @Suite("Swapping adapters under load", .enabled(if: Fixtures.hasSmolLM2))
    struct SwapUnderLoadTests {
        @Test("200 streaming requests over 10 adapters while 50+ replacements and unloads happen through the API and the directory watch")
        func swapUnderLoad() throws {
            guard let bundle = sharedBundle else { return }
            let versions = scratchDirectory("versions"), watched = scratchDirectory("watched-load")
            let names = (0..<10).map { "t\($0)" }
            // Two versions of every adapter, written once.
            for (i, name) in names.enumerated() {
                // Version 0 and version 1 differ clearly (a replacement may even change the kind).
                let kinds: [SyntheticAdapterSpec] = i % 3 == 2
                    ? [SyntheticAdapterSpec(kind: .ia3, targets: [.k, .v, .down], seed: UInt64(1000 + i), strength: 5),
                       SyntheticAdapterSpec(kind: .prefixTuning, virtualTokens: 8, seed: UInt64(2000 + i), strength: 2)]
                    : [SyntheticAdapterSpec(kind: .lora, rank: 8, targets: [.q, .v], seed: UInt64(1000 + i), strength: 10),
                       SyntheticAdapterSpec(kind: .lora, rank: 16, targets: ProjectionModule.allCases, seed: UInt64(2000 + i), strength: 10)]
                for v in 0..<2 {
                    let spec = kinds[v]
                    try AdapterSynthesizer.write(spec, base: bundle.adapterShape, weights: bundle.model, baseName: nil,
                                                 to: "\(versions)/\(name)-v\(v)")
                }
            }
            let server = try TestServer(preload: false) { options in
                options.adapterRoots = [versions]
                options.adapterDirectory = watched
                options.engine = .init(maxRunning: 32, maxStepTokens: 256, maxWaiting: 1024)
            }
            let prompt = "Once upon a time, in a land far away,"
            let versionsSeen = WeakAdapters()
        // Reference outputs of every version, each alone.
            var references: [String: Set<String>] = [:]
            for name in names {
                for v in 0..<2 {
                    #expect(try server.post("/v1/adapters", ["name": name, "path": "\(versions)/\(name)-v\(v)"]).status < 300)
                    references[name, default: []].insert(try server.greedyText(model: name, prompt: prompt, maxTokens: 8) ?? "?")
                if let adapter = server.registry.entry(name)?.adapter { versionsSeen.add(adapter) }
                }
            }
            let distinct = references.values.filter { $0.count == 2 }.count
            #expect(distinct >= 8, "the two versions of most adapters answer differently (\(distinct) of 10)")
            let expected = references

            let outcomes = Outcomes()
            let swapper = Swapper()
            // The swapper: API replacements, unload + reload, and directory-watch replacements.
            let thread = Thread {
                var k = 0
                while !swapper.shouldStop {
                    let name = names[k % names.count], version = (k / names.count) % 2
                    switch k % 5 {
                    case 0, 1:
                        _ = try? server.post("/v1/adapters", ["name": name, "path": "\(versions)/\(name)-v\(version)"])
                        if let adapter = server.registry.entry(name)?.adapter { versionsSeen.add(adapter) }
                    case 2:
                        _ = try? server.call("DELETE", "/v1/adapters/\(name)")
                        usleep(20_000)
                        _ = try? server.post("/v1/adapters", ["name": name, "path": "\(versions)/\(name)-v\(version)"])
                        if let adapter = server.registry.entry(name)?.adapter { versionsSeen.add(adapter) }
                    default:
                        // Through the watched directory (its own names, so the API does not own them).
                        let target = "\(watched)/w\(k % 3)"
                        try? FileManager.default.removeItem(atPath: target)
                        try? FileManager.default.copyItem(atPath: "\(versions)/\(name)-v\(version)", toPath: target)
                    }
                    for w in 0..<3 {
                        if let adapter = server.registry.entry("w\(w)")?.adapter { versionsSeen.add(adapter) }
                    }
                    k += 1
                    swapper.count = k
                    usleep(60_000)
                }
                swapper.finished = true
            }
            thread.start()
            let body = { (name: String) -> String in
                String(decoding: try! JSONSerialization.data(withJSONObject: [
                    "model": name, "prompt": prompt, "max_tokens": 8, "temperature": 0, "stream": true] as [String: Any]), as: UTF8.self)
            }
            let requests = (0..<200).map { names[$0 % names.count] }
            let bodies = requests.map(body)
            DispatchQueue.concurrentPerform(iterations: 16) { worker in
                for i in stride(from: worker, to: requests.count, by: 16) {
                    do {
                        let response = try RawHTTPClient(port: server.port).call("POST", "/v1/completions", body: bodies[i])
                        if response.status == 404 { outcomes.record { $0.notFound += 1 }; continue }
                        guard response.status == 200, response.events.last == "[DONE]" else {
                            outcomes.record { $0.failures.append("\(requests[i]): \(response.status) \(response.text.prefix(200))") }
                            continue
                        }
                        let text = response.events.dropLast().compactMap { event -> String? in
                            let chunk = try? JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any]
                            if chunk?["error"] != nil { return "<error>" }
                            return ((chunk?["choices"] as? [[String: Any]])?.first?["text"]) as? String
                        }.joined()
                        outcomes.record {
                            $0.completed += 1
                            if expected[requests[i]]?.contains(text) != true { $0.mismatched.append("\(requests[i]): \(text)") }
                        }
                    } catch {
                        outcomes.record { $0.failures.append("\(requests[i]): \(error)") }
                    }
                }
            }
            while swapper.count < 50 { usleep(50_000) }
            swapper.shouldStop = true
            while !swapper.finished { usleep(10_000) }
            let swaps = swapper.count

            #expect(outcomes.failures.isEmpty, "\(outcomes.failures.prefix(5))")
            #expect(outcomes.mismatched.isEmpty, "\(outcomes.mismatched.prefix(5))")
            #expect(outcomes.completed + outcomes.notFound == 200 && outcomes.completed >= 150)
            #expect(swaps >= 50)

            // Unload everything: resident adapter bytes go to zero and every version seen is freed
            // (each `Adapter` deinitializes once no registry entry and no request holds it). That the
            // process then hands the memory back is checked on a real server process by
            // Tests/Compatibility/adapter-memory.sh.
            _ = server.waitUntilIdle()
            for entry in server.registry.all where entry.origin == .api { _ = try server.call("DELETE", "/v1/adapters/\(entry.name)") }
            try FileManager.default.removeItem(atPath: watched)
            try FileManager.default.createDirectory(atPath: watched, withIntermediateDirectories: true)
            #expect(eventually { server.registry.all.isEmpty })
            #expect(server.registry.residentBytes == 0)
            #expect(versionsSeen.count >= 30, "the test saw the versions it swapped in (\(versionsSeen.count))")
            #expect(eventually { versionsSeen.allGone }, "\(versionsSeen.aliveCount) adapter versions are still alive")
        }
    }
}

/// Weak references to adapter versions, to check they are all freed in the end.
final class WeakAdapters: @unchecked Sendable {
    private struct Box { weak var adapter: Adapter? }
    private let lock = NSLock()
    private var boxes: [Box] = []
    /// Tracks `adapter` unless it is tracked already.
    func add(_ adapter: Adapter) {
        lock.withLock { if !boxes.contains(where: { $0.adapter === adapter }) { boxes.append(Box(adapter: adapter)) } }
    }
    /// Versions tracked.
    var count: Int { lock.withLock { boxes.count } }
    var aliveCount: Int { lock.withLock { boxes.filter { $0.adapter != nil }.count } }
    var allGone: Bool { aliveCount == 0 }
}

/// The swapper thread's progress, read by the test thread.
final class Swapper: @unchecked Sendable {
    private let lock = NSLock()
    private var _count = 0, _stop = false, _finished = false
    var count: Int { get { lock.withLock { _count } } set { lock.withLock { _count = newValue } } }
    var shouldStop: Bool { get { lock.withLock { _stop } } set { lock.withLock { _stop = newValue } } }
    var finished: Bool { get { lock.withLock { _finished } } set { lock.withLock { _finished = newValue } } }
}
