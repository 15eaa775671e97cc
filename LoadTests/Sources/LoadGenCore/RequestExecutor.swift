/// Why a request did not succeed.
public enum RequestFailure: Sendable, Equatable, CustomStringConvertible {
    /// The connection failed, timed out or carried garbage.
    case transport(HTTPClientError)
    /// The server answered with a non-2xx status.
    case http(status: Int, code: String?, message: String)
    /// A 2xx stream that broke its contract (no `[DONE]`, undecodable chunk, error event).
    case stream(String)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .transport(let error): return error.description
        case .http(let status, let code, let message): return "HTTP \(status)\(code.map { " \($0)" } ?? ""): \(message)"
        case .stream(let message): return "stream: \(message)"
        }
    }

    /// The key errors are counted under in reports: the HTTP status, or a transport/stream kind.
    public var category: String {
        switch self {
        case .transport(let error): return error.kind
        case .http(let status, _, _): return String(status)
        case .stream: return "stream"
        }
    }
}

/// Everything measured about one request. Times are `MonotonicClock` nanoseconds.
public struct RequestOutcome: Sendable {
    /// What was sent.
    public var spec: RequestSpec
    /// When the schedule wanted it sent (equals `sentAt` in closed loop).
    public var scheduledAt: UInt64
    /// When this thread started sending it.
    public var sentAt: UInt64
    /// When the first content chunk arrived (streams only).
    public var firstTokenAt: UInt64?
    /// When the response was complete or the request failed.
    public var finishedAt: UInt64
    /// Gaps between consecutive content chunks (streams only).
    public var tokenGaps: [UInt64] = []
    /// Generated tokens: `usage.completion_tokens`, else the content chunk (or token id) count.
    public var completionTokens = 0
    /// The generated text.
    public var text = ""
    /// Generated token ids, when the server returned them.
    public var tokenIDs: [Int]?
    /// The HTTP status, nil if no response head arrived.
    public var status: Int?
    /// Nil on success.
    public var failure: RequestFailure?

    /// Latency from the scheduled send time to completion.
    public var endToEnd: UInt64 { finishedAt &- scheduledAt }
    /// Time to first token from the scheduled send time.
    public var timeToFirstToken: UInt64? { firstTokenAt.map { $0 &- scheduledAt } }
    /// How late the actual send was against the schedule.
    public var sendLag: UInt64 { sentAt &- scheduledAt }
}

/// Sends one `RequestSpec` and measures it, streaming or not.
public struct RequestExecutor: Sendable {
    /// The connection pool to send through.
    public let client: HTTPClient
    /// Seconds after which a request is abandoned as a timeout.
    public let timeoutSeconds: Double

    /// An executor over `client`.
    public init(client: HTTPClient, timeoutSeconds: Double) {
        self.client = client
        self.timeoutSeconds = timeoutSeconds
    }

    /// Sends `spec` now; latencies are measured from `scheduledAt` (pass nil to measure from now).
    public func execute(_ spec: RequestSpec, scheduledAt: UInt64? = nil) -> RequestOutcome {
        let sentAt = MonotonicClock.now()
        var outcome = RequestOutcome(spec: spec, scheduledAt: scheduledAt ?? sentAt, sentAt: sentAt, finishedAt: sentAt)
        let request = HTTPRequest.json("POST", spec.api.path, body: OpenAIProtocol.encode(OpenAIProtocol.RequestBody(spec)),
                                       accept: spec.stream ? "text/event-stream" : "application/json")
        var stream = StreamState()
        var isEventStream = false
        var body: [UInt8] = []
        do {
            try client.send(request, deadline: sentAt &+ TimeUnits.nanos(seconds: timeoutSeconds)) { event, arrival in
                switch event {
                case .head(let head):
                    outcome.status = head.status
                    isEventStream = (200..<300).contains(head.status)
                        && (head.header("Content-Type")?.lowercased().hasPrefix("text/event-stream") ?? false)
                case .body(let bytes):
                    if isEventStream { stream.consume(bytes, at: arrival, into: &outcome) } else { body += bytes }
                case .end:
                    break
                }
            }
        } catch {
            outcome.failure = .transport(error)
        }
        outcome.finishedAt = MonotonicClock.now()
        if outcome.failure == nil {
            if isEventStream { stream.finish(into: &outcome) } else { Self.readWhole(body, into: &outcome) }
        }
        return outcome
    }

    /// Interprets a non-streamed body: a completion on 2xx, an error envelope otherwise.
    private static func readWhole(_ body: [UInt8], into outcome: inout RequestOutcome) {
        let status = outcome.status ?? 0
        let response = OpenAIProtocol.decode(OpenAIProtocol.Response.self, from: body)
        guard (200..<300).contains(status) else {
            let error = response?.error
            let message = error?.message ?? String(decoding: body.prefix(200), as: UTF8.self)
            outcome.failure = .http(status: status, code: error?.code, message: message)
            return
        }
        guard let response, let choice = response.choices?.first else {
            outcome.failure = .stream("response is not a completion: \(String(decoding: body.prefix(200), as: UTF8.self))")
            return
        }
        outcome.text = choice.generatedText
        outcome.tokenIDs = choice.token_ids
        outcome.completionTokens = response.usage?.completion_tokens ?? choice.token_ids?.count ?? 0
    }
}

/// The state of one SSE stream being read: parser, token timing and the `[DONE]` flag.
private struct StreamState {
    var parser = SSEParser()
    var lastTokenAt: UInt64?
    var contentChunks = 0
    var usageTokens: Int?
    var sawDone = false
    var problem: String?

    mutating func consume(_ bytes: [UInt8], at arrival: UInt64, into outcome: inout RequestOutcome) {
        for event in parser.feed(bytes) where problem == nil {
            if event.isDone { sawDone = true; continue }
            guard let chunk = OpenAIProtocol.decode(OpenAIProtocol.Response.self, from: Array(event.data.utf8)) else {
                problem = "undecodable chunk: \(event.data.prefix(120))"
                continue
            }
            if let error = chunk.error {
                problem = "error event: \(error.code ?? "") \(error.message ?? "")"
                continue
            }
            if let completion = chunk.usage?.completion_tokens { usageTokens = completion }
            for choice in chunk.choices ?? [] {
                let piece = choice.generatedText
                let ids = choice.token_ids ?? []
                // A chat stream's first delta carries only the role: that is not a token.
                guard !piece.isEmpty || !ids.isEmpty else { continue }
                outcome.text += piece
                if choice.token_ids != nil { outcome.tokenIDs = (outcome.tokenIDs ?? []) + ids }
                contentChunks += 1
                if let last = lastTokenAt { outcome.tokenGaps.append(arrival &- last) } else { outcome.firstTokenAt = arrival }
                lastTokenAt = arrival
            }
        }
    }

    mutating func finish(into outcome: inout RequestOutcome) {
        if let problem {
            outcome.failure = .stream(problem)
        } else if !sawDone {
            outcome.failure = .stream("ended without data: [DONE]")
        }
        outcome.completionTokens = usageTokens ?? contentChunks
    }
}
