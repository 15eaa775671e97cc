import Engine
import Prometheus

/// The Prometheus metrics of `GET /metrics` (text format 0.0.4), through swift-prometheus.
/// Counters and histograms are updated on the loop thread as responses progress; gauges are
/// refreshed from the engine's snapshot when scraped.
final class ServerMetrics: @unchecked Sendable {
    let registry = PrometheusCollectorRegistry()
    private let timeToFirstToken: ValueHistogram
    private let interTokenLatency: ValueHistogram
    private let requestDuration: ValueHistogram
    private let running, waiting, stepTokens, kvUsed, kvFree, preemptions, steps, residentAdapterBytes: Gauge

    init() {
        let latencyBuckets = [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24]
        timeToFirstToken = registry.makeValueHistogram(name: "switchboard_time_to_first_token_seconds", buckets: latencyBuckets,
                                                       help: "Time from a request's arrival to its first generated token.")
        interTokenLatency = registry.makeValueHistogram(name: "switchboard_inter_token_latency_seconds",
                                                        buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64],
                                                        help: "Time between consecutive tokens of one choice.")
        requestDuration = registry.makeValueHistogram(name: "switchboard_request_duration_seconds",
                                                      buckets: latencyBuckets + [20.48, 40.96],
                                                      help: "Time from arrival to the last byte of a generation request.")
        running = registry.makeGauge(name: "switchboard_running_sequences", help: "Sequences in the running batch.")
        waiting = registry.makeGauge(name: "switchboard_waiting_requests", help: "Requests waiting for admission.")
        stepTokens = registry.makeGauge(name: "switchboard_batch_tokens", help: "Tokens (rows) in the last engine step.")
        kvUsed = registry.makeGauge(name: "switchboard_kv_blocks_used", help: "KV cache blocks held by sequences.")
        kvFree = registry.makeGauge(name: "switchboard_kv_blocks_free", help: "KV cache blocks free.")
        preemptions = registry.makeGauge(name: "switchboard_preemptions", help: "Sequences preempted so far (KV pool full).")
        steps = registry.makeGauge(name: "switchboard_engine_steps", help: "Engine steps run so far.")
        residentAdapterBytes = registry.makeGauge(name: "switchboard_adapter_resident_bytes", help: "Bytes of loaded adapter versions.")
    }

    /// One finished HTTP request of any route.
    func countRequest(route: String, model: String?, status: Int, tenant: String = "") {
        var labels = [("route", route), ("status", String(status))]
        if let model { labels.append(("model", model)) }
        if !tenant.isEmpty { labels.append(("tenant", tenant)) }
        registry.makeCounter(name: "switchboard_requests_total", labels: labels,
                             help: "HTTP requests by route, model, tenant and status.").increment()
    }

    /// Tokens of a finished generation.
    func countTokens(model: String, tenant: String, prompt: Int, generated: Int) {
        var labels = [("model", model)]
        if !tenant.isEmpty { labels.append(("tenant", tenant)) }
        registry.makeCounter(name: "switchboard_prompt_tokens_total", labels: labels, help: "Prompt tokens processed.")
            .increment(by: Int64(prompt))
        registry.makeCounter(name: "switchboard_generated_tokens_total", labels: labels, help: "Tokens generated.")
            .increment(by: Int64(generated))
    }

    func recordFirstToken(seconds: Double) { timeToFirstToken.record(seconds) }
    func recordInterToken(seconds: Double) { interTokenLatency.record(seconds) }
    func recordDuration(seconds: Double) { requestDuration.record(seconds) }

    /// The text exposition, with gauges refreshed from `snapshot`.
    func render(snapshot: EngineSnapshot, adapterBytes: Int) -> [UInt8] {
        running.set(Double(snapshot.running))
        waiting.set(Double(snapshot.waiting))
        stepTokens.set(Double(snapshot.lastStepTokens))
        kvUsed.set(Double(snapshot.kvBlocksUsed))
        kvFree.set(Double(snapshot.kvBlocksFree))
        preemptions.set(Double(snapshot.preemptions))
        steps.set(Double(snapshot.steps))
        residentAdapterBytes.set(Double(adapterBytes))
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
