import Foundation
import Synchronization

/// One adapter the swapper may act on, with the directories (versions) it may load it from.
public struct SwapTarget: Codable, Sendable, Equatable {
    /// The adapter name (its `model` value).
    public var name: String
    /// Paths on the server's machine; a replace moves to the next one (cycling).
    public var versions: [String]

    /// A target; `versions` must not be empty.
    public init(name: String, versions: [String]) {
        self.name = name
        self.versions = versions
    }
}

/// What the swapper does while a run is under way.
public struct SwapConfig: Codable, Sendable, Equatable {
    /// Swap events per second (each event is a replace, or an unload followed by a reload).
    public var rate: Double
    /// The adapters it acts on.
    public var targets: [SwapTarget]
    /// Seconds an unloaded adapter stays unloaded before the reload.
    public var unloadSeconds: Double
    /// Seed of the choice of adapter and kind per event.
    public var seed: UInt64

    /// A configuration; see the properties.
    public init(rate: Double, targets: [SwapTarget], unloadSeconds: Double = 0.2, seed: UInt64 = 1) {
        self.rate = rate
        self.targets = targets
        self.unloadSeconds = unloadSeconds
        self.seed = seed
    }
}

/// The kind of an admin call.
public enum SwapKind: String, Codable, Sendable {
    /// `POST /v1/adapters` over a loaded adapter (same name, next version path).
    case replace
    /// `DELETE /v1/adapters/{name}`.
    case unload
    /// `POST /v1/adapters` bringing an unloaded adapter back.
    case reload
}

/// One admin call and how it went. Times are seconds since the run started.
public struct SwapEvent: Codable, Sendable, Equatable {
    /// What was done.
    public var kind: SwapKind
    /// To which adapter.
    public var adapter: String
    /// The directory loaded (replace/reload).
    public var path: String?
    /// When the call was sent.
    public var start: Double
    /// When its response was complete.
    public var end: Double
    /// The HTTP status, nil on a transport error.
    public var status: Int?
    /// Whether the call succeeded (2xx).
    public var ok: Bool
    /// The error message when it did not.
    public var message: String?

    /// An event; see the properties.
    public init(kind: SwapKind, adapter: String, path: String? = nil, start: Double, end: Double, status: Int? = nil,
                ok: Bool, message: String? = nil) {
        self.kind = kind
        self.adapter = adapter
        self.path = path
        self.start = start
        self.end = end
        self.status = status
        self.ok = ok
        self.message = message
    }
}

/// A background thread that replaces, unloads and reloads adapters through the admin API at a fixed rate.
///
/// Events are evenly spaced at 1/rate seconds; each picks an adapter and, with equal odds, either
/// replaces it (POST with the next version's path) or unloads it (DELETE) and reloads it after
/// `unloadSeconds`. Choices come from the run seed. An unload is always followed by its reload,
/// even when the run stops in between, so the server is left with every adapter loaded.
public final class Swapper: Sendable {
    private let config: SwapConfig
    private let client: HTTPClient
    private let runStart: UInt64
    private let timeoutSeconds: Double
    private let state = Mutex(State())
    private let finished = DispatchSemaphore(value: 0)

    private struct State {
        var stopRequested = false
        var events: [SwapEvent] = []
    }

    /// A swapper sending through `client`; event times are measured from `runStart`.
    public init(config: SwapConfig, client: HTTPClient, runStart: UInt64, timeoutSeconds: Double) throws(ConfigError) {
        guard config.rate > 0 else { throw .invalidValue(option: "--swap", value: "\(config.rate)", reason: "rate must be > 0") }
        guard !config.targets.isEmpty, config.targets.allSatisfy({ !$0.versions.isEmpty }) else {
            throw .inconsistent("--swap needs at least one adapter with a path (--swap-adapter-dir or --swap-adapter)")
        }
        self.config = config
        self.client = client
        self.runStart = runStart
        self.timeoutSeconds = timeoutSeconds
    }

    /// Starts the background thread.
    public func start() {
        let thread = Thread { [self] in
            loop()
            finished.signal()
        }
        thread.name = "swapper"
        thread.start()
    }

    /// Stops the thread (finishing a pending reload) and returns every event it recorded.
    public func stop() -> [SwapEvent] {
        state.withLock { $0.stopRequested = true }
        finished.wait()
        return state.withLock { $0.events }
    }

    private var stopRequested: Bool { state.withLock { $0.stopRequested } }

    private func loop() {
        var rng = Xoshiro256(seed: config.seed, stream: RandomStream.swapper)
        var version = [String: Int]()
        let period = TimeUnits.nanos(seconds: 1 / config.rate)
        var next = MonotonicClock.now() &+ period
        while sleepUnlessStopped(until: next) {
            let target = config.targets[rng.nextIndex(below: config.targets.count)]
            if rng.nextUnit() < 0.5 {
                let v = ((version[target.name] ?? 0) + 1) % target.versions.count
                version[target.name] = v
                load(target.name, path: target.versions[v], kind: .replace)
            } else {
                unload(target.name)
                // Deliberately not interruptible: the reload must happen.
                MonotonicClock.sleep(seconds: config.unloadSeconds)
                load(target.name, path: target.versions[version[target.name] ?? 0], kind: .reload)
            }
            // If calls overran the period, continue from now rather than firing a burst to catch up.
            next = max(next &+ period, MonotonicClock.now())
        }
    }

    /// Sleeps in short slices so that `stop()` is honoured quickly; false if stopped.
    private func sleepUnlessStopped(until deadline: UInt64) -> Bool {
        while MonotonicClock.now() < deadline {
            if stopRequested { return false }
            MonotonicClock.sleep(until: min(deadline, MonotonicClock.now() &+ 50_000_000))
        }
        return !stopRequested
    }

    private func load(_ name: String, path: String, kind: SwapKind) {
        let body = OpenAIProtocol.encode(OpenAIProtocol.AdapterLoad(name: name, path: path))
        call(HTTPRequest.json("POST", "/v1/adapters", body: body), kind: kind, adapter: name, path: path)
    }

    private func unload(_ name: String) {
        let escaped = name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? name
        call(HTTPRequest(method: "DELETE", path: "/v1/adapters/\(escaped)"), kind: .unload, adapter: name, path: nil)
    }

    private func call(_ request: HTTPRequest, kind: SwapKind, adapter: String, path: String?) {
        let sent = MonotonicClock.now()
        var event = SwapEvent(kind: kind, adapter: adapter, path: path, start: seconds(sent), end: 0, status: nil, ok: false)
        do {
            let response = try client.fetch(request, timeoutSeconds: timeoutSeconds)
            event.status = response.head.status
            event.ok = (200..<300).contains(response.head.status)
            if !event.ok {
                let error = OpenAIProtocol.decode(OpenAIProtocol.Response.self, from: response.body)?.error
                event.message = error?.message ?? String(decoding: response.body.prefix(200), as: UTF8.self)
            }
        } catch {
            event.message = error.description
        }
        event.end = seconds(MonotonicClock.now())
        state.withLock { $0.events.append(event) }
    }

    private func seconds(_ time: UInt64) -> Double { TimeUnits.seconds(time &- runStart) }
}
