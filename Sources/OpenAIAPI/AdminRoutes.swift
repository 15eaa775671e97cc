import Adapters
import Foundation
import HTTPServer

/// The adapter admin API: list, load (or replace), unload — Switchboard's own routes and the
/// vLLM-compatible pair. A tenant manages only names it may use; the admin key manages all.
extension OpenAIService {
    func handleAdmin(_ route: Route, _ request: HTTPRequest, _ writer: HTTPResponseWriter, caller: Caller) {
        switch route {
        case .listAdapters:
            respondJSON(writer, route: "/v1/adapters", encode(adapterList(for: caller)))
        case .loadAdapter, .vllmLoad:
            let vllm = route == .vllmLoad
            let routeName = vllm ? "/v1/load_lora_adapter" : "/v1/adapters"
            let name: String, path: String
            do {
                let fields = try RequestFields(body: request.body)
                name = try fields.requiredString(vllm ? "lora_name" : "name")
                path = try fields.requiredString(vllm ? "lora_path" : "path")
            } catch {
                return respondError(writer, route: routeName, error)
            }
            guard caller.mayUse(adapter: name) else {
                return respondError(writer, route: routeName, APIError.forbidden(
                    message: "This key may not manage an adapter named '\(name)'."))
            }
            guard name != baseModelID else {
                return respondError(writer, route: routeName, APIError.invalidRequest(
                    message: "'\(name)' is the base model's name.", param: vllm ? "lora_name" : "name"))
            }
            let replacing = registry.entry(name) != nil
            manager.load(name: name, path: path, origin: .api) { [self] result in
                switch result {
                case .success(let adapter):
                    if vllm {
                        writer.respond(status: 200, headers: [("Content-Type", "text/plain")],
                                       body: Array("Success: LoRA adapter '\(name)' added successfully.".utf8))
                        metrics.countRequest(route: routeName, model: name, status: 200)
                    } else {
                        let entry = registry.entry(name)
                        respondJSON(writer, route: routeName, status: replacing ? 200 : 201, encode(AdapterLoadResult(
                            name: name, version: adapter.version, kind: adapter.kind.rawValue, rank: adapter.rank,
                            bytes: adapter.byteCount, loadMilliseconds: (entry?.loadSeconds ?? 0) * 1000, replaced: replacing)))
                    }
                case .failure(let error):
                    let apiError = (error as? APIError) ?? .adapterRejected(message: "\(error)")
                    respondError(writer, route: routeName, apiError, model: name)
                }
            }
        case let .unloadAdapter(name):
            unload(name, caller: caller, writer: writer, route: "/v1/adapters/{name}") {
                self.encode(["name": name, "unloaded": "true"])
            }
        case .vllmUnload:
            let name: String
            do { name = try RequestFields(body: request.body).requiredString("lora_name") } catch {
                return respondError(writer, route: "/v1/unload_lora_adapter", error)
            }
            unload(name, caller: caller, writer: writer, route: "/v1/unload_lora_adapter", contentType: "text/plain") {
                Array("Success: LoRA adapter '\(name)' removed successfully.".utf8)
            }
        default:
            respondError(writer, route: "admin", APIError.notFound(path: request.path))
        }
    }

    private func unload(_ name: String, caller: Caller, writer: HTTPResponseWriter, route: String,
                        contentType: String = "application/json", body: () -> [UInt8]) {
        guard caller.mayUse(adapter: name), manager.unload(name: name) else {
            return respondError(writer, route: route, APIError.modelNotFound(name))
        }
        writer.respond(status: 200, headers: [("Content-Type", contentType)], body: body())
        metrics.countRequest(route: route, model: name, status: 200)
    }

    private func adapterList(for caller: Caller) -> AdapterList {
        let formatter = ISO8601DateFormatter()
        return AdapterList(
            data: registry.all.filter { caller.mayUse(adapter: $0.name) }.map { entry in
                AdapterList.Item(name: entry.name, kind: entry.kind.rawValue, rank: entry.rank, version: entry.version,
                                 bytes: entry.byteCount, resident: entry.isResident, source: entry.source,
                                 origin: entry.origin.rawValue, loadedAt: formatter.string(from: entry.loadedAt),
                                 loadMilliseconds: entry.loadSeconds * 1000, lastUsed: entry.lastUsed.map(formatter.string(from:)),
                                 requestsServed: entry.requestsServed)
            },
            residentBytes: caller.isAdmin ? registry.residentBytes : nil,
            budgetBytes: caller.isAdmin ? registry.memoryBudget : nil)
    }
}

/// `POST /v1/adapters` answer.
struct AdapterLoadResult: Encodable {
    let name: String
    let version: Int
    let kind: String
    let rank: Int
    let bytes: Int
    let loadMilliseconds: Double
    let replaced: Bool
    enum CodingKeys: String, CodingKey { case name, version, kind, rank, bytes, loadMilliseconds = "load_ms", replaced }
}

/// `GET /v1/adapters` answer.
struct AdapterList: Encodable {
    struct Item: Encodable {
        let name: String
        let kind: String
        let rank: Int
        let version: Int
        let bytes: Int
        let resident: Bool
        let source: String
        let origin: String
        let loadedAt: String
        let loadMilliseconds: Double
        let lastUsed: String?
        let requestsServed: Int
        enum CodingKeys: String, CodingKey {
            case name, kind, rank, version, bytes, resident, source, origin, loadedAt = "loaded_at"
            case loadMilliseconds = "load_ms", lastUsed = "last_used", requestsServed = "requests_served"
        }
    }
    let object = "list"
    let data: [Item]
    let residentBytes: Int?
    let budgetBytes: Int?
    enum CodingKeys: String, CodingKey { case object, data, residentBytes = "resident_bytes", budgetBytes = "budget_bytes" }
}
