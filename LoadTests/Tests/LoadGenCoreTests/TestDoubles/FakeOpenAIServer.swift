import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// TEST DOUBLE — not the real Switchboard server. A tiny HTTP/1.1 server on a loopback port
/// that answers like an OpenAI-compatible server with canned, deterministic outputs, so the
/// client, runner, verifier and swapper can be tested end to end without a model.
///
/// Outputs: `max_tokens` tokens whose ids derive from a hash of (model, prompt), text " w<id>"
/// per token. Streams go out with chunked encoding, each SSE event split over two chunks and
/// preceded by a comment line, to exercise the client's parsers on real sockets.
final class FakeOpenAIServer: Sendable {
    /// Knobs a test sets before starting the server.
    struct Behavior: Sendable {
        /// Models answered besides loaded adapters.
        var baseModels: Set<String> = ["base"]
        /// Adapters loaded at start (name → path).
        var adapters: [String: String] = [:]
        /// Accept any model name (skips the 404 check).
        var acceptAnyModel = false
        /// Seconds between streamed tokens.
        var tokenDelay = 0.0
        /// Every n-th completion request (1-based) gets a wrong last token, if set.
        var corruptEvery: Int?
        /// Every n-th completion request answers 503, if set.
        var failEvery: Int?
        /// Include `token_ids` when asked.
        var supportsTokenIDs = true
    }

    private struct State {
        var adapters: [String: String]
        var completions = 0
        var accepted = 0
        var adminCalls: [String] = []
        var connections: [Int32] = []
        var stopped = false
    }

    let port: Int
    private let listener: Int32
    private let behavior: Behavior
    private let state: Mutex<State>
    private let acceptDone = DispatchSemaphore(value: 0)

    /// Binds an ephemeral loopback port and starts accepting.
    init(_ behavior: Behavior = Behavior()) throws {
        self.behavior = behavior
        state = Mutex(State(adapters: behavior.adapters))
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 128) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in acceptLoop() }.start()
    }

    /// Admin calls received, as "POST name path" / "DELETE name".
    var adminCalls: [String] { state.withLock { $0.adminCalls } }

    /// Connections accepted so far.
    var acceptedConnections: Int { state.withLock { $0.accepted } }

    /// Adapters loaded now.
    var loadedAdapters: [String: String] { state.withLock { $0.adapters } }

    /// Completion requests received.
    var completionCount: Int { state.withLock { $0.completions } }

    /// Stops accepting and closes every connection.
    func stop() {
        let fds = state.withLock { s -> [Int32] in s.stopped = true; return s.connections }
        shutdown(listener, Int32(SHUT_RDWR))
        for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
        acceptDone.wait()
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 { break }
            let stopped = state.withLock { s -> Bool in s.connections.append(fd); s.accepted += 1; return s.stopped }
            if stopped { close(fd); break }
            // Like a real streaming server: without this, Nagle's algorithm holds back small SSE writes.
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            Thread { [self] in serve(fd) }.start()
        }
        acceptDone.signal()
    }

    /// Serves requests on one connection until the client closes it or asks to.
    private func serve(_ fd: Int32) {
        defer {
            state.withLock { $0.connections.removeAll { $0 == fd } }
            close(fd)
        }
        var buffer: [UInt8] = []
        while let (head, body) = readRequest(fd, &buffer) {
            let lines = head.components(separatedBy: "\r\n")
            let parts = lines[0].split(separator: " ").map(String.init)
            guard parts.count >= 2 else { return }
            let closeAfter = lines.contains { $0.lowercased() == "connection: close" }
            let keepGoing = respond(fd, method: parts[0], path: parts[1], body: body)
            if closeAfter || !keepGoing { return }
        }
    }

    /// Reads one request head and its Content-Length body.
    private func readRequest(_ fd: Int32, _ buffer: inout [UInt8]) -> (String, [UInt8])? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let range = buffer.firstRange(of: separator) {
                let head = String(decoding: buffer[..<range.lowerBound], as: UTF8.self)
                let length = head.components(separatedBy: "\r\n").compactMap { line -> Int? in
                    let pair = line.split(separator: ":", maxSplits: 1)
                    return pair.count == 2 && pair[0].lowercased() == "content-length" ? Int(pair[1].trimmingCharacters(in: .whitespaces)) : nil
                }.first ?? 0
                if buffer.count - range.upperBound >= length {
                    let body = Array(buffer[range.upperBound..<range.upperBound + length])
                    buffer.removeFirst(range.upperBound + length)
                    return (head, body)
                }
            }
            let count = recv(fd, &chunk, chunk.count, 0)
            if count <= 0 { return nil }
            buffer += chunk[0..<count]
        }
    }

    /// Answers one request; returns false when the connection should close.
    private func respond(_ fd: Int32, method: String, path: String, body: [UInt8]) -> Bool {
        let json = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
        switch (method, path) {
        case ("GET", "/health"):
            return send(fd, status: 200, json: ["status": "ok"])
        case ("GET", "/v1/models"):
            let names = behavior.baseModels.sorted() + state.withLock { $0.adapters.keys.sorted() }
            return send(fd, status: 200, json: ["object": "list", "data": names.map { ["id": $0, "object": "model"] }])
        case ("POST", "/v1/adapters"):
            let name = json["name"] as? String ?? "", path = json["path"] as? String ?? ""
            state.withLock { $0.adapters[name] = path; $0.adminCalls.append("POST \(name) \(path)") }
            return send(fd, status: 200, json: ["name": name, "path": path])
        case ("DELETE", _) where path.hasPrefix("/v1/adapters/"):
            let name = String(path.dropFirst("/v1/adapters/".count))
            let existed = state.withLock { s -> Bool in s.adminCalls.append("DELETE \(name)"); return s.adapters.removeValue(forKey: name) != nil }
            return existed ? send(fd, status: 200, json: ["deleted": name]) : sendError(fd, 404, "model_not_found", "no adapter \(name)")
        case ("POST", "/v1/completions"), ("POST", "/v1/chat/completions"):
            return complete(fd, chat: path.contains("chat"), json)
        default:
            return sendError(fd, 404, "not_found", "no route \(method) \(path)")
        }
    }

    private func complete(_ fd: Int32, chat: Bool, _ json: [String: Any]) -> Bool {
        let model = json["model"] as? String ?? ""
        let prompt = chat ? ((json["messages"] as? [[String: Any]])?.first?["content"] as? String ?? "") : json["prompt"] as? String ?? ""
        let (number, known) = state.withLock { s -> (Int, Bool) in
            s.completions += 1
            return (s.completions, behavior.acceptAnyModel || behavior.baseModels.contains(model) || s.adapters[model] != nil)
        }
        guard known else { return sendError(fd, 404, "model_not_found", "The model '\(model)' does not exist") }
        if let every = behavior.failEvery, number % every == 0 { return sendError(fd, 503, "overloaded", "try later") }
        var ids = Self.tokens(model: model, prompt: prompt, count: json["max_tokens"] as? Int ?? 16)
        if let every = behavior.corruptEvery, number % every == 0, !ids.isEmpty { ids[ids.count - 1] += 1 }
        let wantIDs = behavior.supportsTokenIDs && (json["return_token_ids"] as? Bool ?? false)
        let piece: (Int) -> String = { " w\($0)" }
        guard json["stream"] as? Bool ?? false else {
            var choice: [String: Any] = ["index": 0, "finish_reason": "length"]
            if chat { choice["message"] = ["role": "assistant", "content": ids.map(piece).joined()] } else { choice["text"] = ids.map(piece).joined() }
            if wantIDs { choice["token_ids"] = ids }
            return send(fd, status: 200, json: ["id": "cmpl-1", "object": chat ? "chat.completion" : "text_completion", "model": model,
                                               "choices": [choice], "usage": ["prompt_tokens": 3, "completion_tokens": ids.count, "total_tokens": ids.count + 3]])
        }
        guard write(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n") else { return false }
        var events: [String] = [": keep-alive"]
        if chat { events.append("data: " + Self.text(["choices": [["index": 0, "delta": ["role": "assistant"], "finish_reason": NSNull()]]])) }
        for (i, id) in ids.enumerated() {
            var choice: [String: Any] = ["index": 0, "finish_reason": i == ids.count - 1 ? "length" : NSNull()]
            if chat { choice["delta"] = ["content": piece(id)] } else { choice["text"] = piece(id) }
            if wantIDs { choice["token_ids"] = [id] }
            events.append("data: " + Self.text(["id": "cmpl-1", "object": chat ? "chat.completion.chunk" : "text_completion", "choices": [choice]]))
        }
        if (json["stream_options"] as? [String: Any])?["include_usage"] as? Bool ?? false {
            events.append("data: " + Self.text(["choices": [], "usage": ["prompt_tokens": 3, "completion_tokens": ids.count, "total_tokens": ids.count + 3]]))
        }
        events.append("data: [DONE]")
        for (i, event) in events.enumerated() {
            if i > 1, behavior.tokenDelay > 0 { Thread.sleep(forTimeInterval: behavior.tokenDelay) }
            let bytes = Array((event + "\r\n\r\n").utf8)
            let half = bytes.count / 2
            // Two chunks per event: the client must reassemble events across chunk boundaries.
            for part in [bytes[..<half], bytes[half...]] where !part.isEmpty {
                guard write(fd, String(part.count, radix: 16) + "\r\n"), write(fd, Array(part)), write(fd, "\r\n") else { return false }
            }
        }
        return write(fd, "0\r\n\r\n")
    }

    static func tokens(model: String, prompt: String, count: Int) -> [Int] {
        var hash: UInt64 = 1469598103934665603
        for byte in (model + "|" + prompt).utf8 { hash = (hash ^ UInt64(byte)) &* 1099511628211 }
        return (0..<max(count, 0)).map { Int((hash &+ UInt64($0) &* 7919) % 50_000) }
    }

    private static func text(_ object: Any) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
    }

    private func send(_ fd: Int32, status: Int, json: Any) -> Bool {
        let body = Self.text(json)
        let reason = status == 200 ? "OK" : "Error"
        return write(fd, "HTTP/1.1 \(status) \(reason)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
    }

    private func sendError(_ fd: Int32, _ status: Int, _ code: String, _ message: String) -> Bool {
        send(fd, status: status, json: ["error": ["message": message, "type": "invalid_request_error", "param": NSNull(), "code": code]])
    }

    private func write(_ fd: Int32, _ text: String) -> Bool { write(fd, Array(text.utf8)) }

    private func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }
}
