import AfterimageMetering
import Foundation
import Prometheus
import Synchronization

/// The server's Prometheus registry and the instruments recorded per request. One registry per
/// application (no global bootstrap), so several servers in one process keep separate figures.
///
/// Every family is declared at startup and appears in `/metrics` (as `# HELP`/`# TYPE`) before its
/// first event. Label values are bounded: models are configured ids, `cache` and `result` come from
/// fixed sets, and namespaces and keys are capped at `maxLabelValues` distinct values per label
/// (later ones are reported as `_other`).
public final class ServerMetrics: MeteringMetrics {
    public let registry = PrometheusCollectorRegistry()
    let maxLabelValues: Int
    private let seen = Mutex<[String: Set<String>]>([:])

    static let durationBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
        .seconds(10), .seconds(30), .seconds(60), .seconds(120),
    ]
    static let similarityBuckets: [Double] = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.92, 0.94, 0.96, 0.98, 0.99, 1.0]

    /// Name, type and help of every family.
    static let families: [(name: String, type: String, help: String)] = [
        ("afterimage_requests_total", "counter", "Requests answered, by endpoint, model, status and cache outcome (miss, direct, semantic, bypass)."),
        ("afterimage_request_duration_seconds", "histogram", "Request latency, by endpoint, model, status and cache outcome."),
        ("afterimage_cache_lookups_total", "counter", "Cache lookups by result: direct, semantic, miss, guard_refused (a candidate above the threshold refused by the guard)."),
        ("afterimage_cache_similarity", "histogram", "Best candidate's cosine similarity of each semantic lookup."),
        ("afterimage_upstream_duration_seconds", "histogram", "Time spent on upstream calls (retries included), by model."),
        ("afterimage_embedding_duration_seconds", "histogram", "Time to embed one lookup's or store's prompt."),
        ("afterimage_tokens_total", "counter", "Tokens consumed upstream, by kind (text_input, image_input, image_output, text_output) and model."),
        ("afterimage_cost_usd_total", "counter", "Spend in USD, by namespace and model."),
        ("afterimage_saved_usd_total", "counter", "Spend avoided by cache hits in USD, by namespace and model."),
        ("afterimage_cache_entries", "gauge", "Live cache entries."),
        ("afterimage_cache_bytes", "gauge", "Image bytes held by live cache entries."),
        ("afterimage_budget_remaining_usd", "gauge", "Budget left this period, by key (keys with a budget that made requests since startup)."),
        ("afterimage_upstream_retries_total", "counter", "Upstream calls repeated after a retryable failure or moved to a fallback model."),
        ("afterimage_upstream_cooldown_skips_total", "counter", "Models skipped for a fallback because they were resting after failures in a row (upstream.cooldown)."),
        ("afterimage_unpriced_requests_total", "counter", "Requests whose model has no price in the pricing file (cost recorded as null)."),
        ("afterimage_unauthenticated_requests_total", "counter", "Requests refused for a missing or invalid API key (no ledger row each)."),
    ]

    /// Each family's help text by name (not found by a linear search per event).
    private static let helps: [String: String] = Dictionary(uniqueKeysWithValues: families.map { ($0.name, $0.help) })

    public init(maxLabelValues: Int = 100) {
        self.maxLabelValues = maxLabelValues
        _ = registry.makeCounter(descriptor: descriptor("afterimage_upstream_retries_total"))
        _ = registry.makeCounter(descriptor: descriptor("afterimage_upstream_cooldown_skips_total"))
        _ = registry.makeCounter(descriptor: descriptor("afterimage_unauthenticated_requests_total"))
        _ = registry.makeGauge(descriptor: descriptor("afterimage_cache_entries"))
        _ = registry.makeGauge(descriptor: descriptor("afterimage_cache_bytes"))
        _ = registry.makeDurationHistogram(descriptor: descriptor("afterimage_embedding_duration_seconds"), buckets: Self.durationBuckets)
    }

    /// The family's descriptor (the empty unit leaves the name as it is).
    func descriptor(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: Self.helps[name] ?? "")
    }

    /// `value`, or `_other` once `label` has `maxLabelValues` other values.
    func bounded(_ label: String, _ value: String) -> String {
        seen.withLock { seen in
            if seen[label, default: []].contains(value) { return value }
            guard seen[label, default: []].count < maxLabelValues else { return "_other" }
            seen[label, default: []].insert(value)
            return value
        }
    }

    /// Counts a finished request and records its latency.
    public func recordRequest(endpoint: String, model: String, status: Int, cache: String, duration: Duration) {
        let labels = [("endpoint", endpoint), ("model", model), ("status", String(status)), ("cache", cache)]
        registry.makeCounter(descriptor: descriptor("afterimage_requests_total"), labels: labels).increment()
        registry.makeDurationHistogram(descriptor: descriptor("afterimage_request_duration_seconds"), labels: labels, buckets: Self.durationBuckets)
            .record(duration)
    }

    /// Counts a cache lookup and, for semantic ones, records the best similarity seen.
    public func recordLookup(result: String, similarity: Float?) {
        registry.makeCounter(descriptor: descriptor("afterimage_cache_lookups_total"), labels: [("result", result)]).increment()
        if let similarity {
            registry.makeValueHistogram(descriptor: descriptor("afterimage_cache_similarity"), buckets: Self.similarityBuckets)
                .record(Double(similarity))
        }
    }

    /// Records how long the upstream took for a model.
    public func recordUpstream(model: String, duration: Duration) {
        registry.makeDurationHistogram(descriptor: descriptor("afterimage_upstream_duration_seconds"), labels: [("model", model)], buckets: Self.durationBuckets)
            .record(duration)
    }

    /// Records one embedding call.
    public func recordEmbedding(duration: Duration) {
        registry.makeDurationHistogram(descriptor: descriptor("afterimage_embedding_duration_seconds"), buckets: Self.durationBuckets).record(duration)
    }

    /// Adds a request's tokens, spend and savings (USD as floating point here: metrics only).
    public func recordUsage(namespace: String?, model: String?, tokens: [(kind: String, count: Int)], costUSD: Double?, savedUSD: Double) {
        let model = model ?? "unknown"
        for (kind, count) in tokens where count > 0 {
            registry.makeCounter(descriptor: descriptor("afterimage_tokens_total"), labels: [("kind", kind), ("model", model)]).increment(by: Int64(count))
        }
        let labels = [("namespace", bounded("namespace", namespace ?? "none")), ("model", model)]
        if let costUSD, costUSD > 0 { registry.makeCounter(descriptor: descriptor("afterimage_cost_usd_total"), labels: labels).increment(by: costUSD) }
        if savedUSD > 0 { registry.makeCounter(descriptor: descriptor("afterimage_saved_usd_total"), labels: labels).increment(by: savedUSD) }
    }

    /// Counts one retried or fallback upstream attempt.
    public func recordRetry() {
        registry.makeCounter(descriptor: descriptor("afterimage_upstream_retries_total")).increment()
    }

    /// Counts one model skipped while it rested (`UpstreamCooldown`).
    public func recordCooldownSkip() {
        registry.makeCounter(descriptor: descriptor("afterimage_upstream_cooldown_skips_total")).increment()
    }

    /// Counts a request whose model has no price (its cost is null).
    public func recordUnpriced(model: String) {
        registry.makeCounter(descriptor: descriptor("afterimage_unpriced_requests_total"), labels: [("model", bounded("unpriced_model", String(model.prefix(100))))]).increment()
    }

    public func recordUnauthenticated() {
        registry.makeCounter(descriptor: descriptor("afterimage_unauthenticated_requests_total")).increment()
    }

    /// Sets the cache size gauges.
    public func setCacheSize(entries: Int, bytes: Int) {
        registry.makeGauge(descriptor: descriptor("afterimage_cache_entries")).set(Double(entries))
        registry.makeGauge(descriptor: descriptor("afterimage_cache_bytes")).set(Double(bytes))
    }

    /// Sets a key's remaining budget.
    public func setBudgetRemaining(keyID: String, usd: Double) {
        registry.makeGauge(descriptor: descriptor("afterimage_budget_remaining_usd"), labels: [("key", bounded("key", keyID))]).set(usd)
    }

    /// The Prometheus text exposition; families without series yet still get their HELP and TYPE.
    public func render() -> String {
        var text = registry.emitToString()
        for family in Self.families where !text.contains("# TYPE \(family.name) ") {
            text += "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family.type)\n"
        }
        return text
    }
}
