import Adapters
import Engine
import Foundation
import HTTPServer
import Logging
import Tokenizer

/// The HTTP API on the event loop: authenticates, routes, validates and tokenizes requests,
/// hands typed jobs to the engine thread and turns its events into responses.
///
/// Loop-thread confined (it is `@unchecked Sendable` only so the engine's delivery closure can
/// carry it to a `LoopBridge.post`, which runs it back on the loop thread).
public final class OpenAIService: @unchecked Sendable {
    let bundle: ModelBundle
    let registry: AdapterRegistry
    let manager: AdapterManager
    private let limits: APILimits
    let logger: Logger
    let metrics = ServerMetrics()
    private let tenants: TenantDirectory?
    private var limiter = TenantLimiter()
    private(set) var engine: EngineService?
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

    /// A service for `bundle`, with adapters in `registry` loadable from `adapterRoots`,
    /// callers checked against `tenants` (nil: no authentication), sequences capped at
    /// `maxSequenceTokens` (default: the model's context).
    public init(bundle: ModelBundle, registry: AdapterRegistry, adapterRoots: [String] = [],
                adapterLimits: AdapterLimits = AdapterLimits(), tenants: TenantsFile? = nil, limits: APILimits = APILimits(),
                maxSequenceTokens: Int? = nil, logger: Logger) {
        self.bundle = bundle
        self.registry = registry
        self.limits = limits
        self.logger = logger
        self.tenants = tenants.map(TenantDirectory.init)
        manager = AdapterManager(registry: registry, bundle: bundle, roots: adapterRoots, limits: adapterLimits, logger: logger)
        self.maxSequenceTokens = min(maxSequenceTokens ?? .max, bundle.model.config.contextLength)
        let names = bundle.adapterShape.names
        baseModelID = names.last ?? bundle.model.config.name
        baseAliases = Set(names + [bundle.path, URL(fileURLWithPath: bundle.path).lastPathComponent])
    }

    /// Connects the engine (built with a delivery closure that calls `receive` on the loop).
    public func attach(_ engine: EngineService) { self.engine = engine }

    /// Gives adapter loading the loop's thread pool (called on the loop thread by the server).
    func useLoop(_ loop: EventLoop) {
        manager.runBlocking = { work, then in loop.runBlocking(work, then: then) }
    }

    /// Stops accepting generation requests (503); in-flight ones finish.
    public func beginDraining() { draining = true }

    /// Generation requests still being answered.
    public var inFlightCount: Int { Set(sessions.values.map { ObjectIdentifier($0) }).count }

    /// The HTTP handler: every request of the server goes through here.
    public func handle(_ request: HTTPRequest, _ writer: HTTPResponseWriter) {
        let route = Route(method: request.method, path: request.path)
        if case .health = route { return health(writer) }
        guard let caller = authenticate(request) else {
            return respondError(writer, route: "auth", APIError.unauthorized(
                message: "Missing or unknown API key: send 'Authorization: Bearer KEY'."))
        }
        switch route {
        case .completions: startGeneration(request, writer, caller: caller, endpoint: .completions)
        case .chatCompletions: startGeneration(request, writer, caller: caller, endpoint: .chat)
        case .models: respondJSON(writer, route: "/v1/models", encode(modelList(for: caller)))
        case .health: health(writer)
        case .metrics:
            guard caller.isAdmin else { return respondError(writer, route: "/metrics", APIError.notFound(path: request.path)) }
            let body = metrics.render(snapshot: engine?.snapshot ?? EngineSnapshot(), adapterBytes: registry.residentBytes)
            writer.respond(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], body: body)
        case .listAdapters, .loadAdapter, .unloadAdapter, .vllmLoad, .vllmUnload:
            handleAdmin(route, request, writer, caller: caller)
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

    private func authenticate(_ request: HTTPRequest) -> Caller? {
        guard let tenants else { return .anyone }
        return tenants.authenticate(request.header("Authorization"))
    }

    private func health(_ writer: HTTPResponseWriter) {
        let ok = engine != nil && !draining
        writer.respond(status: ok ? 200 : 503, headers: [("Content-Type", "application/json")],
                       body: Array((ok ? #"{"status":"ok"}"# : #"{"status":"unavailable"}"#).utf8))
        metrics.countRequest(route: "/health", model: nil, status: ok ? 200 : 503)
    }

    // MARK: - Generation

    /// Validates, admits and submits a generation request. An adapter evicted under the memory
    /// budget is reloaded first (off the loop), then the request starts over once.
    private func startGeneration(_ request: HTTPRequest, _ writer: HTTPResponseWriter, caller: Caller, endpoint: Endpoint,
                                 startedAt: Double = monotonicSeconds(), reloaded: Bool = false) {
        let route = endpoint == .chat ? "/v1/chat/completions" : "/v1/completions"
        guard let engine, !draining else {
            return respondError(writer, route: route, APIError.unavailable(
                message: draining ? "The server is shutting down." : "The server is starting."))
        }
        let plan: GenerationPlan
        do {
            let context = parsingContext(caller: caller)
            plan = endpoint == .chat ? try RequestParsing.chat(request.body, context) : try RequestParsing.completion(request.body, context)
        } catch let APIError.adapterEvicted(name) where !reloaded {
            manager.reload(name: name) { [self] result in
                switch result {
                case .success:
                    startGeneration(request, writer, caller: caller, endpoint: endpoint, startedAt: startedAt, reloaded: true)
                case .failure(let error):
                    logger.warning("reloading adapter \(name) failed: \(error)")
                    respondError(writer, route: route, APIError.unavailable(message: "The adapter '\(name)' could not be reloaded."))
                }
            }
            return
        } catch {
            return respondError(writer, route: route, error, tenant: caller.tenantName)
        }
        if case .tenant(let tenant) = caller, let refusal = limiter.admit(tenant, choices: plan.choiceCount, now: monotonicSeconds()) {
            return respondError(writer, route: route, refusal, model: plan.model, tenant: tenant.name)
        }
        let firstID = nextRequestID
        nextRequestID += UInt64(plan.choiceCount)
        do {
            try engine.submit(plan.engineRequests(firstID: firstID))
        } catch {
            if !plan.tenant.isEmpty { limiter.finish(plan.tenant, tokens: 0, now: monotonicSeconds()) }
            return respondError(writer, route: route, APIError.from(error), model: plan.model, tenant: plan.tenant)
        }
        let session = GenerationSession(plan: plan, firstID: firstID, writer: writer, tokenizer: bundle.tokenizer,
                                        metrics: metrics, logger: logger, startedAt: startedAt)
        let ids = session.requestIDs
        for id in ids { sessions[id] = session }
        session.onEnd = { [weak self] tokens in
            // Choices still running (another choice failed, or the client left) are cancelled.
            guard let self else { return }
            let open = ids.filter { self.sessions[$0] != nil }
            for id in open { self.sessions[id] = nil }
            if !open.isEmpty { self.engine?.cancel(open) }
            if !plan.tenant.isEmpty { self.limiter.finish(plan.tenant, tokens: tokens, now: monotonicSeconds()) }
        }
        writer.onClose = { [weak session] in session?.clientGone(now: monotonicSeconds()) }
        session.begin()
    }

    private func parsingContext(caller: Caller) -> ParsingContext {
        let bundle = self.bundle, registry = self.registry, aliases = baseAliases, baseID = baseModelID
        return ParsingContext(
            tokenizer: bundle.tokenizer, chatTemplate: { try bundle.chatTemplate() },
            contextLength: maxSequenceTokens, vocabularySize: bundle.model.config.vocabularySize,
            defaultStopTokens: bundle.defaultStopTokens,
            resolveModel: { name in
                if name == baseID || aliases.contains(name) { return caller.mayUseBaseModel ? .base : nil }
                // Another tenant's adapter answers exactly as a missing one.
                guard caller.mayUse(adapter: name) else { return nil }
                switch registry.resolve(name) {
                case .resident(let adapter): return .adapter(adapter)
                case .evicted: return .evicted(name)
                case .unknown: return nil
                }
            },
            limits: limits, tenant: caller.tenantName)
    }

    // MARK: - Models

    private func modelList(for caller: Caller) -> ModelList {
        let created = Int(Date().timeIntervalSince1970)
        var models: [ModelList.Model] = []
        if caller.mayUseBaseModel {
            models.append(ModelList.Model(id: baseModelID, created: created, ownedBy: "switchboard", root: bundle.path, parent: nil,
                                          adapter: nil))
        }
        for entry in registry.all where caller.mayUse(adapter: entry.name) {
            models.append(ModelList.Model(
                id: entry.name, created: Int(entry.loadedAt.timeIntervalSince1970), ownedBy: "switchboard", root: entry.source,
                parent: baseModelID,
                adapter: ModelList.AdapterInfo(kind: entry.kind.rawValue, rank: entry.rank, version: entry.version,
                                               bytes: entry.byteCount, virtualTokens: entry.adapter?.virtualTokenCount ?? 0,
                                               base: baseModelID, resident: entry.isResident)))
        }
        return ModelList(data: models)
    }

    // MARK: - Responses

    func respondJSON(_ writer: HTTPResponseWriter, route: String, status: Int = 200, _ body: [UInt8]) {
        writer.respond(status: status, headers: [("Content-Type", "application/json")], body: body)
        metrics.countRequest(route: route, model: nil, status: status)
    }

    func respondError(_ writer: HTTPResponseWriter, route: String, _ error: Error, model: String? = nil, tenant: String = "") {
        let apiError: APIError
        if let known = error as? APIError { apiError = known } else {
            logger.error("internal error on \(route): \(error)")
            apiError = .internalError
        }
        writer.respond(status: apiError.status, headers: apiError.headers + [("Content-Type", "application/json")],
                       body: apiError.body)
        metrics.countRequest(route: route, model: model, status: apiError.status, tenant: tenant)
        if apiError.status >= 500 || apiError.status == 429 {
            logger.warning("\(route) → \(apiError.status): \(apiError.message)")
        }
    }

    func encode<T: Encodable>(_ value: T) -> [UInt8] {
        (try? JSONEncoder.api.encode(value)).map { [UInt8]($0) } ?? []
    }
}

/// Monotonic seconds, for latencies.
func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
