import Adapters
import Engine
import Foundation
import HTTPServer
import Logging
import Tokenizer

/// The HTTP API on the event loop: routes requests, validates and tokenizes them, hands typed
/// jobs to the engine thread and turns its events into responses.
///
/// Loop-thread confined (it is `@unchecked Sendable` only so the engine's delivery closure can
/// carry it to a `LoopBridge.post`, which runs it back on the loop thread).
public final class OpenAIService: @unchecked Sendable {
    private let bundle: ModelBundle
    private let registry: AdapterRegistry
    private let limits: APILimits
    private let logger: Logger
    let metrics = ServerMetrics()
    private var engine: EngineService?
    /// Choice request id → its session.
    private var sessions: [RequestID: GenerationSession] = [:]
    private var nextRequestID: UInt64 = 1
    private var draining = false
    /// The id `/v1/models` shows for the base model; requests may also use the model's own name.
    public let baseModelID: String
    private let baseAliases: Set<String>

    /// Longest sequence (prompt, virtual tokens and completion) a request may ask for: the
    /// model's context, or what the KV pool holds if that is less.
    public let maxSequenceTokens: Int

    /// A service for `bundle`, resolving adapters through `registry`; sequences are capped at
    /// `maxSequenceTokens` (default: the model's context).
    public init(bundle: ModelBundle, registry: AdapterRegistry, limits: APILimits = APILimits(), maxSequenceTokens: Int? = nil,
                logger: Logger) {
        self.bundle = bundle
        self.maxSequenceTokens = min(maxSequenceTokens ?? .max, bundle.model.config.contextLength)
        self.registry = registry
        self.limits = limits
        self.logger = logger
        let names = bundle.adapterShape.names
        baseModelID = names.last ?? bundle.model.config.name
        baseAliases = Set(names + [bundle.path, URL(fileURLWithPath: bundle.path).lastPathComponent])
    }

    /// Connects the engine (built with a delivery closure that calls `receive` on the loop).
    public func attach(_ engine: EngineService) { self.engine = engine }

    /// Stops accepting generation requests (503); in-flight ones finish.
    public func beginDraining() { draining = true }

    /// Generation requests still being answered.
    public var inFlightCount: Int { Set(sessions.values.map { ObjectIdentifier($0) }).count }

    /// The HTTP handler: every request of the server goes through here.
    public func handle(_ request: HTTPRequest, _ writer: HTTPResponseWriter) {
        let route = Route(method: request.method, path: request.path)
        switch route {
        case .completions, .chatCompletions:
            startGeneration(request, writer, endpoint: route == .chatCompletions ? .chat : .completions)
        case .models:
            respondJSON(writer, route: "/v1/models", encode(modelList()))
        case .health:
            let ok = engine != nil && !draining
            writer.respond(status: ok ? 200 : 503, headers: [("Content-Type", "application/json")],
                           body: Array((ok ? #"{"status":"ok"}"# : #"{"status":"unavailable"}"#).utf8))
            metrics.countRequest(route: "/health", model: nil, status: ok ? 200 : 503)
        case .metrics:
            let body = metrics.render(snapshot: engine?.snapshot ?? EngineSnapshot(), adapterBytes: registry.residentBytes)
            writer.respond(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], body: body)
        case let .wrongMethod(allowed):
            respondError(writer, route: request.path, APIError.methodNotAllowed(method: request.method, allowed: allowed))
        case .unknown:
            respondError(writer, route: "unknown", APIError.notFound(path: request.path))
        }
    }

    /// Engine events, on the loop thread.
    public func receive(_ events: [EngineEvent]) {
        let now = monotonicSeconds()
        for event in events {
            let id: RequestID
            switch event {
            case let .admitted(r), let .token(r, _, _, _), let .finished(r, _, _, _), let .failed(r, _): id = r
            }
            guard let session = sessions[id] else { continue }
            if case .finished = event { sessions[id] = nil }
            if case .failed = event { sessions[id] = nil }
            guard !session.isOver else { continue }
            session.handle(event, choice: Int(id.rawValue - session.firstID), now: now)
        }
    }

    // MARK: - Generation

    private func startGeneration(_ request: HTTPRequest, _ writer: HTTPResponseWriter, endpoint: Endpoint) {
        let route = endpoint == .chat ? "/v1/chat/completions" : "/v1/completions"
        let startedAt = monotonicSeconds()
        guard let engine, !draining else {
            respondError(writer, route: route, APIError.unavailable(message: draining ? "The server is shutting down." : "The server is starting."))
            return
        }
        let plan: GenerationPlan
        do {
            let context = parsingContext(tenant: "")
            plan = endpoint == .chat ? try RequestParsing.chat(request.body, context) : try RequestParsing.completion(request.body, context)
        } catch {
            respondError(writer, route: route, error)
            return
        }
        let firstID = nextRequestID
        nextRequestID += UInt64(plan.choiceCount)
        do {
            try engine.submit(plan.engineRequests(firstID: firstID))
        } catch {
            respondError(writer, route: route, APIError.from(error), model: plan.model)
            return
        }
        let session = GenerationSession(plan: plan, firstID: firstID, writer: writer, tokenizer: bundle.tokenizer,
                                        metrics: metrics, logger: logger, startedAt: startedAt)
        let ids = session.requestIDs
        for id in ids { sessions[id] = session }
        session.onEnd = { [weak self] in
            // Choices still running (another choice failed, or the client left) are cancelled.
            guard let self else { return }
            let open = ids.filter { self.sessions[$0] != nil }
            for id in open { self.sessions[id] = nil }
            if !open.isEmpty { self.engine?.cancel(open) }
        }
        writer.onClose = { [weak session] in session?.clientGone(now: monotonicSeconds()) }
        session.begin()
    }

    private func parsingContext(tenant: String) -> ParsingContext {
        let bundle = self.bundle, registry = self.registry, aliases = baseAliases, baseID = baseModelID
        let maxSequenceTokens = self.maxSequenceTokens
        return ParsingContext(
            tokenizer: bundle.tokenizer, chatTemplate: { try bundle.chatTemplate() },
            contextLength: maxSequenceTokens, vocabularySize: bundle.model.config.vocabularySize,
            defaultStopTokens: bundle.defaultStopTokens,
            resolveModel: { name in
                if name == baseID || aliases.contains(name) { return .base }
                return registry.resolve(name).map { .adapter($0) }
            },
            limits: limits, tenant: tenant)
    }

    // MARK: - Models

    private func modelList() -> ModelList {
        let created = Int(Date().timeIntervalSince1970)
        var models = [ModelList.Model(id: baseModelID, created: created, ownedBy: "switchboard", root: bundle.path, parent: nil,
                                      adapter: nil)]
        for entry in registry.all {
            let a = entry.adapter
            models.append(ModelList.Model(
                id: a.name, created: Int(entry.loadedAt.timeIntervalSince1970), ownedBy: "switchboard", root: a.source,
                parent: baseModelID,
                adapter: ModelList.AdapterInfo(kind: a.kind.rawValue, rank: a.rank, version: a.version, bytes: a.byteCount,
                                               virtualTokens: a.virtualTokenCount, base: baseModelID)))
        }
        return ModelList(data: models)
    }

    // MARK: - Responses

    func respondJSON(_ writer: HTTPResponseWriter, route: String, status: Int = 200, _ body: [UInt8]) {
        writer.respond(status: status, headers: [("Content-Type", "application/json")], body: body)
        metrics.countRequest(route: route, model: nil, status: status)
    }

    func respondError(_ writer: HTTPResponseWriter, route: String, _ error: Error, model: String? = nil) {
        let apiError: APIError
        if let known = error as? APIError { apiError = known } else {
            logger.error("internal error on \(route): \(error)")
            apiError = .internalError
        }
        writer.respond(status: apiError.status, headers: apiError.headers + [("Content-Type", "application/json")],
                       body: apiError.body)
        metrics.countRequest(route: route, model: model, status: apiError.status)
        if apiError.status >= 500 || apiError.status == 429 {
            logger.warning("\(route) → \(apiError.status): \(apiError.message)")
        }
    }

    func encode<T: Encodable>(_ value: T) -> [UInt8] {
        (try? JSONEncoder.api.encode(value)).map { [UInt8]($0) } ?? []
    }
}

/// Routes of the API.
enum Route: Equatable {
    case completions, chatCompletions, models, health, metrics
    case wrongMethod(allowed: [String])
    case unknown

    init(method: String, path: String) {
        let table: [String: (method: String, route: Route)] = [
            "/v1/completions": ("POST", .completions), "/v1/chat/completions": ("POST", .chatCompletions),
            "/v1/models": ("GET", .models), "/health": ("GET", .health), "/metrics": ("GET", .metrics),
        ]
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        guard let entry = table[trimmed] else { self = .unknown; return }
        self = method == entry.method || (method == "HEAD" && entry.method == "GET") ? entry.route : .wrongMethod(allowed: [entry.method])
    }
}

/// Monotonic seconds, for latencies.
func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
