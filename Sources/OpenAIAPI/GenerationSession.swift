import Engine
import Foundation
import HTTPServer
import Logging
import Tokenizer

/// One generation request in flight on the loop thread: turns the engine's events for its
/// choices into a JSON response, or into Server-Sent Events as they arrive.
final class GenerationSession {
    /// Per-choice progress.
    private struct Choice {
        var text = ""
        var tokens: [Int] = []
        var completionLogprobs = CompletionLogprobs()
        var chatLogprobs = ChatLogprobs()
        var finishReason: String?
        var usage: TokenUsage?
        var lastTokenAt: Double?
        var done: Bool { finishReason != nil }
    }

    let plan: GenerationPlan
    let firstID: UInt64
    private let writer: HTTPResponseWriter
    private let tokenizer: BPETokenizer
    private let metrics: ServerMetrics
    private let logger: Logger
    private let responseID: String
    private let created = Int(Date().timeIntervalSince1970)
    private let startedAt: Double
    private var choices: [Choice]
    private var firstTokenAt: Double?
    private var failure: APIError?
    /// Called once the session is over (response sent or client gone) with the tokens it used.
    var onEnd: ((Int) -> Void)?

    init(plan: GenerationPlan, firstID: UInt64, writer: HTTPResponseWriter, tokenizer: BPETokenizer,
         metrics: ServerMetrics, logger: Logger, startedAt: Double) {
        self.plan = plan
        self.firstID = firstID
        self.writer = writer
        self.tokenizer = tokenizer
        self.metrics = metrics
        self.logger = logger
        self.startedAt = startedAt
        responseID = (plan.endpoint == .chat ? "chatcmpl-" : "cmpl-") + String(firstID, radix: 36) + "-"
            + String(UInt32.random(in: .min ... .max), radix: 36)
        choices = Array(repeating: Choice(), count: plan.choiceCount)
    }

    /// Request ids of every choice.
    var requestIDs: [RequestID] { (0..<plan.choiceCount).map { RequestID(firstID + UInt64($0)) } }

    /// Sends the stream's headers (and chat's role chunks) at once, so the client sees progress.
    func begin() {
        guard plan.stream else { return }
        writer.startStream(status: 200, headers: [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"),
                                                  ("X-Request-ID", responseID)])
        if plan.endpoint == .chat {
            for index in 0..<plan.choiceCount {
                sendChunk([ChatChoice(index: index, message: nil, delta: ChatMessageBody(role: "assistant", content: ""),
                                      logprobs: nil, finishReason: nil, tokenIDs: nil)])
            }
        }
    }

    /// One engine event for choice `index`.
    func handle(_ event: EngineEvent, choice index: Int, now: Double) {
        switch event {
        case .admitted:
            break
        case let .token(_, token, text, logprobs):
            if firstTokenAt == nil {
                firstTokenAt = now
                metrics.recordFirstToken(seconds: now - startedAt)
            }
            if let last = choices[index].lastTokenAt { metrics.recordInterToken(seconds: now - last) }
            choices[index].lastTokenAt = now
            choices[index].tokens.append(token)
            if let logprobs { appendLogprobs(logprobs, token: token, choice: index) }
            choices[index].text += text
            if plan.stream, !text.isEmpty || plan.returnTokenIDs || logprobs != nil {
                sendDelta(index: index, text: text, token: token, logprobs: logprobs, finishReason: nil)
            }
        case let .finished(_, reason, text, usage):
            choices[index].text += text
            choices[index].usage = usage
            if reason == .cancelled {
                // The client is gone (nothing to send) or the server is shutting down.
                fail(.unavailable(message: "The request was cancelled because the server is shutting down."), now: now)
                return
            }
            choices[index].finishReason = reason.rawValue
            if plan.stream { sendDelta(index: index, text: text, token: nil, logprobs: nil, finishReason: reason.rawValue) }
            if choices.allSatisfy(\.done) { complete(now: now) }
        case let .failed(_, message):
            choices[index].finishReason = "error"
            logger.warning("\(responseID): choice \(index) failed: \(message)")
            fail(.unavailable(message: "The request could not be run: \(message)"), now: now)
        }
    }

    /// The client disconnected: nothing more is written; the server cancels the engine requests.
    func clientGone(now: Double) {
        guard failure == nil else { return }
        failure = .internalError
        log(status: 499, now: now)
        onEnd?(usedTokens)
    }

    // MARK: - Writing

    private func complete(now: Double) {
        let usage = totalUsage
        if plan.stream {
            if plan.includeUsage { sendUsageChunk(usage) }
            writer.writeChunk(Array("data: [DONE]\n\n".utf8))
            writer.endStream()
        } else {
            let body: [UInt8]
            switch plan.endpoint {
            case .completions:
                body = encode(ResponseBody(id: responseID, object: "text_completion", created: created, model: plan.model,
                                           choices: choices.enumerated().map { index, choice in
                                               CompletionChoice(index: index, text: choice.text,
                                                                logprobs: plan.logprobs != nil ? choice.completionLogprobs : nil,
                                                                finishReason: choice.finishReason,
                                                                tokenIDs: plan.returnTokenIDs ? choice.tokens : nil)
                                           }, usage: usage, systemFingerprint: nil))
            case .chat:
                body = encode(ResponseBody(id: responseID, object: "chat.completion", created: created, model: plan.model,
                                           choices: choices.enumerated().map { index, choice in
                                               ChatChoice(index: index, message: ChatMessageBody(role: "assistant", content: choice.text),
                                                          delta: nil, logprobs: plan.logprobs != nil ? choice.chatLogprobs : nil,
                                                          finishReason: choice.finishReason,
                                                          tokenIDs: plan.returnTokenIDs ? choice.tokens : nil)
                                           }, usage: usage, systemFingerprint: nil))
            }
            writer.respond(status: 200, headers: [("Content-Type", "application/json"), ("X-Request-ID", responseID)], body: body)
        }
        metrics.countTokens(model: plan.model, tenant: plan.tenant, prompt: usage.promptTokens, generated: usage.completionTokens)
        log(status: 200, now: now)
        onEnd?(usedTokens)
    }

    private func fail(_ error: APIError, now: Double) {
        guard failure == nil else { return }
        failure = error
        if writer.isConnectionOpen {
            if plan.stream {
                // Headers are out: the error travels as a final event.
                writer.writeChunk(Array("data: ".utf8) + error.body + Array("\n\ndata: [DONE]\n\n".utf8))
                writer.endStream()
            } else {
                writer.respond(status: error.status, headers: error.headers + [("Content-Type", "application/json")],
                               body: error.body)
            }
        }
        log(status: error.status, now: now)
        onEnd?(usedTokens)
    }

    /// Whether the session already ended (events for its other choices are then ignored).
    var isOver: Bool { failure != nil || choices.allSatisfy(\.done) }

    private var usedTokens: Int { totalUsage.promptTokens + totalUsage.completionTokens }

    private var totalUsage: Usage {
        let prompt = choices.enumerated().reduce(0) { total, entry in
            // Prompt tokens count once per prompt, not once per sample.
            entry.offset % plan.n == 0 ? total + (entry.element.usage?.promptTokens ?? plan.prompts[entry.offset / plan.n].count) : total
        }
        return Usage(promptTokens: prompt, completionTokens: choices.reduce(0) { $0 + $1.tokens.count })
    }

    private func sendDelta(index: Int, text: String, token: Int?, logprobs: TokenLogprobs?, finishReason: String?) {
        let ids = plan.returnTokenIDs ? token.map { [$0] } ?? [] : nil
        switch plan.endpoint {
        case .completions:
            var chunkLogprobs: CompletionLogprobs?
            if let logprobs, let token { chunkLogprobs = completionLogprobs(logprobs, token: token, offset: 0) }
            sendChunk([CompletionChoice(index: index, text: text, logprobs: chunkLogprobs, finishReason: finishReason, tokenIDs: ids)])
        case .chat:
            var chunkLogprobs: ChatLogprobs?
            if let logprobs, let token { chunkLogprobs = ChatLogprobs(content: [chatEntry(logprobs, token: token)]) }
            let delta = ChatMessageBody(role: nil, content: finishReason == nil || !text.isEmpty ? text : nil)
            sendChunk([ChatChoice(index: index, message: nil, delta: delta, logprobs: chunkLogprobs, finishReason: finishReason,
                                  tokenIDs: ids)])
        }
    }

    private func sendChunk<C: Encodable>(_ chunkChoices: [C]) {
        let object = plan.endpoint == .chat ? "chat.completion.chunk" : "text_completion"
        let body = encode(ResponseBody(id: responseID, object: object, created: created, model: plan.model,
                                       choices: chunkChoices, usage: nil, systemFingerprint: nil))
        writer.writeChunk(Array("data: ".utf8) + body + Array("\n\n".utf8))
    }

    private func sendUsageChunk(_ usage: Usage) {
        let object = plan.endpoint == .chat ? "chat.completion.chunk" : "text_completion"
        let body = encode(ResponseBody<CompletionChoice>(id: responseID, object: object, created: created, model: plan.model,
                                                         choices: [], usage: usage, systemFingerprint: nil))
        writer.writeChunk(Array("data: ".utf8) + body + Array("\n\n".utf8))
    }

    private func encode<T: Encodable>(_ value: T) -> [UInt8] {
        (try? JSONEncoder.api.encode(value)).map { [UInt8]($0) } ?? []
    }

    // MARK: - Logprobs

    private func tokenText(_ token: Int) -> String { String(decoding: tokenizer.tokenBytes(token), as: UTF8.self) }

    private func appendLogprobs(_ logprobs: TokenLogprobs, token: Int, choice index: Int) {
        switch plan.endpoint {
        case .completions:
            let entry = completionLogprobs(logprobs, token: token, offset: choices[index].text.utf8.count)
            choices[index].completionLogprobs.tokens += entry.tokens
            choices[index].completionLogprobs.tokenLogprobs += entry.tokenLogprobs
            choices[index].completionLogprobs.topLogprobs += entry.topLogprobs
            choices[index].completionLogprobs.textOffset += entry.textOffset
        case .chat:
            choices[index].chatLogprobs.content.append(chatEntry(logprobs, token: token))
        }
    }

    private func completionLogprobs(_ logprobs: TokenLogprobs, token: Int, offset: Int) -> CompletionLogprobs {
        var top: [String: Float] = [:]
        for alternative in logprobs.top { top[tokenText(alternative.token)] = alternative.logprob }
        return CompletionLogprobs(tokens: [tokenText(token)], tokenLogprobs: [logprobs.logprob], topLogprobs: [top],
                                  textOffset: [offset])
    }

    private func chatEntry(_ logprobs: TokenLogprobs, token: Int) -> ChatLogprobs.Entry {
        ChatLogprobs.Entry(token: tokenText(token), logprob: logprobs.logprob, bytes: tokenizer.tokenBytes(token),
                           topLogprobs: logprobs.top.map {
                               ChatLogprobs.Alternative(token: tokenText($0.token), logprob: $0.logprob, bytes: tokenizer.tokenBytes($0.token))
                           })
    }

    private func log(status: Int, now: Double) {
        let usage = totalUsage
        metrics.countRequest(route: plan.endpoint == .chat ? "/v1/chat/completions" : "/v1/completions", model: plan.model,
                             status: status, tenant: plan.tenant)
        metrics.recordDuration(seconds: now - startedAt)
        logger.info("request", metadata: [
            "id": "\(responseID)", "model": "\(plan.model)", "status": "\(status)", "stream": "\(plan.stream)",
            "choices": "\(plan.choiceCount)", "prompt_tokens": "\(usage.promptTokens)",
            "completion_tokens": "\(usage.completionTokens)",
            "ttft_ms": "\(firstTokenAt.map { String(format: "%.1f", ($0 - startedAt) * 1000) } ?? "-")",
            "latency_ms": "\(String(format: "%.1f", (now - startedAt) * 1000))",
        ])
    }
}
