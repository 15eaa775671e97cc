import COpenSSL
import Foundation

/// The optional tenants file: who may call the server, with which adapters and limits.
///
/// ```json
/// {"admin_keys_sha256": ["<hex>"],
///  "tenants": [{"name": "acme", "keys_sha256": ["<hex>"], "adapters": ["acme-support"],
///               "adapter_prefixes": ["acme-"], "base_model": true,
///               "max_concurrent_requests": 8, "tokens_per_minute": 20000}]}
/// ```
/// Keys are stored only as SHA-256 digests (`switchboard tenants hash-key KEY` prints one).
public struct TenantsFile: Decodable, Sendable {
    public struct Tenant: Decodable, Sendable {
        public let name: String
        public let keysSHA256: [String]
        /// Adapter names this tenant may use and manage.
        public let adapters: [String]?
        /// Adapter name prefixes this tenant may use and manage.
        public let adapterPrefixes: [String]?
        /// Whether it may use the base model directly (default true).
        public let baseModel: Bool?
        public let maxConcurrentRequests: Int?
        public let tokensPerMinute: Int?

        enum CodingKeys: String, CodingKey {
            case name, keysSHA256 = "keys_sha256", adapters, adapterPrefixes = "adapter_prefixes", baseModel = "base_model"
            case maxConcurrentRequests = "max_concurrent_requests", tokensPerMinute = "tokens_per_minute"
        }
    }

    public let adminKeysSHA256: [String]
    public let tenants: [Tenant]

    enum CodingKeys: String, CodingKey { case adminKeysSHA256 = "admin_keys_sha256", tenants }

    /// Reads and checks a tenants file.
    public static func load(path: String) throws -> TenantsFile {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let file = try JSONDecoder().decode(TenantsFile.self, from: data)
        var seen: Set<String> = []
        for digest in file.adminKeysSHA256 + file.tenants.flatMap(\.keysSHA256) {
            guard digest.count == 64, digest.allSatisfy(\.isHexDigit) else {
                throw TenantsFileError(message: "\(path): '\(digest)' is not a SHA-256 hex digest")
            }
            guard seen.insert(digest.lowercased()).inserted else {
                throw TenantsFileError(message: "\(path): one key digest appears twice")
            }
        }
        return file
    }
}

/// A tenants file that cannot be used.
public struct TenantsFileError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Who is calling.
enum Caller {
    /// No tenants file: everyone (the server then listens on loopback only).
    case anyone
    case admin
    case tenant(TenantsFile.Tenant)

    /// The tenant's name for fair share and metrics ("" for admin and anyone).
    var tenantName: String {
        if case .tenant(let t) = self { return t.name }
        return ""
    }

    /// Whether this caller may use (and, for adapters, manage) `model`.
    func mayUse(adapter name: String) -> Bool {
        guard case .tenant(let t) = self else { return true }
        return (t.adapters ?? []).contains(name) || (t.adapterPrefixes ?? []).contains { name.hasPrefix($0) }
    }

    var mayUseBaseModel: Bool {
        guard case .tenant(let t) = self else { return true }
        return t.baseModel ?? true
    }

    var isAdmin: Bool {
        switch self {
        case .anyone, .admin: return true
        case .tenant: return false
        }
    }
}

/// Maps `Authorization: Bearer KEY` to a caller through the keys' SHA-256 digests.
struct TenantDirectory {
    private let callers: [String: Caller]

    init(_ file: TenantsFile) {
        var callers: [String: Caller] = [:]
        for digest in file.adminKeysSHA256 { callers[digest.lowercased()] = .admin }
        for tenant in file.tenants {
            for digest in tenant.keysSHA256 { callers[digest.lowercased()] = .tenant(tenant) }
        }
        self.callers = callers
    }

    /// The caller of a request with this Authorization header, or nil (401).
    func authenticate(_ authorization: String?) -> Caller? {
        guard let authorization, authorization.lowercased().hasPrefix("bearer ") else { return nil }
        let key = authorization.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces)
        guard !key.isEmpty else { return nil }
        return callers[sha256Hex(key)]
    }
}

/// Lowercase hex SHA-256 of `text`'s UTF-8 bytes (OpenSSL's libcrypto).
public func sha256Hex(_ text: String) -> String {
    var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
    let bytes = Array(text.utf8)
    bytes.withUnsafeBufferPointer { source in
        _ = SHA256(source.baseAddress, source.count, &digest)
    }
    return digest.map { String(format: "%02x", $0) }.joined()
}

/// Per-tenant limits: concurrent requests and tokens per minute. Loop-thread confined.
struct TenantLimiter {
    private var inFlight: [String: Int] = [:]
    /// Recent (time, tokens) charges per tenant, oldest first, for the sliding one-minute window.
    private var charges: [String: [(time: Double, tokens: Int)]] = [:]

    /// Nil if `tenant` may start a request with `choices` sequences now, else the error to answer.
    mutating func admit(_ tenant: TenantsFile.Tenant, choices: Int, now: Double) -> APIError? {
        if let cap = tenant.maxConcurrentRequests, inFlight[tenant.name, default: 0] + 1 > cap {
            return .rateLimited(message: "Tenant '\(tenant.name)' has \(cap) requests in flight, its limit.", retryAfterSeconds: 1)
        }
        if let perMinute = tenant.tokensPerMinute {
            var window = charges[tenant.name, default: []]
            window.removeAll { now - $0.time >= 60 }
            charges[tenant.name] = window
            let used = window.reduce(0) { $0 + $1.tokens }
            if used >= perMinute {
                // Wait until enough of the window expires to go under the limit.
                var freed = 0, wait = 60.0
                for charge in window {
                    freed += charge.tokens
                    if used - freed < perMinute { wait = 60 - (now - charge.time); break }
                }
                return .rateLimited(message: "Tenant '\(tenant.name)' used \(used) of its \(perMinute) tokens per minute.",
                                    retryAfterSeconds: max(1, Int(wait.rounded(.up))))
            }
        }
        inFlight[tenant.name, default: 0] += 1
        return nil
    }

    /// A request of `tenant` ended having used `tokens` (prompt + generated).
    mutating func finish(_ tenant: String, tokens: Int, now: Double) {
        inFlight[tenant, default: 1] -= 1
        charges[tenant, default: []].append((now, tokens))
    }
}
