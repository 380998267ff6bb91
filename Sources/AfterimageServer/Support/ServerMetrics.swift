import Foundation
import Prometheus

/// The server's Prometheus registry and the instruments recorded per request. One registry per
/// application (no global bootstrap), so several servers in one process keep separate figures.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    static let durationBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
        .seconds(10), .seconds(30), .seconds(60), .seconds(120),
    ]

    public init() {
        // Register the families at startup so they appear before their first event.
        _ = registry.makeCounter(descriptor: .init(metricName: "afterimage_upstream_retries_total", helpText: "Upstream calls repeated after a retryable failure or moved to a fallback model."))
    }

    /// Counts a finished request and records its latency.
    public func recordRequest(endpoint: String, model: String, status: Int, cache: String, duration: Duration) {
        let labels = [("endpoint", endpoint), ("model", model), ("status", String(status)), ("cache", cache)]
        registry.makeCounter(
            descriptor: .init(metricName: "afterimage_requests_total", helpText: "Requests answered, by endpoint, model, status and cache outcome."),
            labels: labels
        ).increment()
        registry.makeDurationHistogram(
            descriptor: .init(metricName: "afterimage_request_duration_seconds", helpText: "Request latency, by endpoint, model, status and cache outcome."),
            labels: labels, buckets: Self.durationBuckets
        ).record(duration)
    }

    /// Records how long the upstream took for a model.
    public func recordUpstream(model: String, duration: Duration) {
        registry.makeDurationHistogram(
            descriptor: .init(metricName: "afterimage_upstream_duration_seconds", helpText: "Time spent on upstream calls (retries included), by model."),
            labels: [("model", model)], buckets: Self.durationBuckets
        ).record(duration)
    }

    /// Counts one retried or fallback upstream attempt.
    public func recordRetry() {
        registry.makeCounter(descriptor: .init(metricName: "afterimage_upstream_retries_total", helpText: "Upstream calls repeated after a retryable failure or moved to a fallback model.")).increment()
    }

    /// Counts a request whose model has no price (its cost is null).
    public func recordUnpriced(model: String) {
        registry.makeCounter(
            descriptor: .init(metricName: "afterimage_unpriced_requests_total", helpText: "Requests whose model has no price in the pricing file (cost recorded as null)."),
            labels: [("model", model)]
        ).increment()
    }

    /// The Prometheus text exposition.
    public func render() -> String { registry.emitToString() }
}
