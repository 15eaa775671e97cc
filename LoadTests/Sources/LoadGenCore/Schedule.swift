/// How load is offered: a fixed number of clients, or arrivals at a fixed rate.
public enum LoadMode: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Closed loop: `concurrency` clients each send their next request as soon as the previous
    /// one completes, so the offered load adapts to the server's speed.
    case closed(concurrency: Int)
    /// Open loop: requests arrive as a Poisson process of `rate` per second whether or not
    /// earlier ones have finished, so a slow server builds a queue that shows up in latency.
    case open(rate: Double)

    /// E.g. "closed c=8" or "open 4.0 req/s".
    public var description: String {
        switch self {
        case .closed(let concurrency): return "closed c=\(concurrency)"
        case .open(let rate): return "open \(rate) req/s"
        }
    }
}

/// When a run stops issuing requests: after a count, after a duration, or whichever comes first.
public struct RunLimits: Codable, Sendable, Equatable {
    /// Maximum number of requests, or nil for no count limit.
    public var requests: Int?
    /// Seconds after the start beyond which no request is issued, or nil for no time limit.
    public var durationSeconds: Double?

    /// Limits; at least one must be set, which `validate()` checks.
    public init(requests: Int? = nil, durationSeconds: Double? = nil) {
        self.requests = requests
        self.durationSeconds = durationSeconds
    }

    /// Throws unless the limits bound the run.
    public func validate() throws(ConfigError) {
        if requests == nil, durationSeconds == nil {
            throw ConfigError.inconsistent("a run needs --requests or --duration (or both)")
        }
        if let requests, requests < 1 {
            throw ConfigError.invalidValue(option: "--requests", value: "\(requests)", reason: "must be ≥ 1")
        }
        if let durationSeconds, !(durationSeconds > 0) {
            throw ConfigError.invalidValue(option: "--duration", value: "\(durationSeconds)", reason: "must be > 0")
        }
    }
}

/// The arrival times of a Poisson process: exponential gaps with mean 1/rate, from a seeded stream.
///
/// Offsets are accumulated in floating-point seconds (exact enough for days of schedule) and
/// handed out in nanoseconds since the start of the run.
public struct PoissonArrivals: IteratorProtocol, Sequence, Sendable {
    /// Arrivals per second.
    public let rate: Double
    private var rng: Xoshiro256
    private var elapsed = 0.0

    /// A schedule of `rate` arrivals per second determined by `seed`.
    public init(rate: Double, seed: UInt64) {
        precondition(rate > 0, "rate must be positive")
        self.rate = rate
        rng = Xoshiro256(seed: seed, stream: RandomStream.schedule)
    }

    /// The next arrival, in nanoseconds after the start (never nil: the process is infinite).
    public mutating func next() -> UInt64? {
        elapsed += rng.nextExponential(rate: rate)
        return TimeUnits.nanos(seconds: elapsed)
    }
}
