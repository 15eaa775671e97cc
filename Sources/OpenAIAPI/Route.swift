/// Routes of the API: the path and method table in one place.
enum Route: Equatable {
    case completions, chatCompletions, models, health, metrics
    case listAdapters, loadAdapter
    case unloadAdapter(name: String)
    case vllmLoad, vllmUnload
    case wrongMethod(allowed: [String])
    case unknown

    private static let table: [String: [String: Route]] = [
        "/v1/completions": ["POST": .completions], "/v1/chat/completions": ["POST": .chatCompletions],
        "/v1/models": ["GET": .models], "/health": ["GET": .health], "/metrics": ["GET": .metrics],
        "/v1/adapters": ["GET": .listAdapters, "POST": .loadAdapter],
        "/v1/load_lora_adapter": ["POST": .vllmLoad], "/v1/unload_lora_adapter": ["POST": .vllmUnload],
    ]

    init(method: String, path: String) {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        let verb = method == "HEAD" ? "GET" : method
        if trimmed.hasPrefix("/v1/adapters/") {
            let name = String(trimmed.dropFirst("/v1/adapters/".count)).removingPercentEncoding ?? ""
            self = verb == "DELETE" ? .unloadAdapter(name: name) : .wrongMethod(allowed: ["DELETE"])
            return
        }
        guard let methods = Self.table[trimmed] else { self = .unknown; return }
        self = methods[verb] ?? .wrongMethod(allowed: methods.keys.sorted())
    }
}
