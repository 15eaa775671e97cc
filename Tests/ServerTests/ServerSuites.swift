import Testing

/// Every server suite runs inside this one, one test at a time: each starts its own server on
/// the shared model, and two cores running several servers at once would turn latency
/// assertions into races.
@Suite("Server", .serialized)
struct ServerSuites {}
