import Foundation

/// `tracing.*`: OpenTelemetry traces of every request, exported over OTLP/HTTP (default off).
public struct TracingSettings: Sendable, Equatable {
    public enum WireProtocol: String, Sendable {
        case protobuf = "http/protobuf"
        case json = "http/json"
    }

    /// `tracing.enabled` (bool, default false).
    public var enabled = false
    /// `tracing.endpoint` (string, default `http://127.0.0.1:4318`): the OTLP/HTTP collector's
    /// base URL; spans go to `{endpoint}/v1/traces`.
    public var endpoint = "http://127.0.0.1:4318"
    /// `tracing.protocol` (`http/protobuf` | `http/json`, default `http/protobuf`).
    public var wireProtocol = WireProtocol.protobuf
    /// `tracing.service_name` (string, default `afterimage`): the `service.name` resource attribute.
    public var serviceName = "afterimage"
    /// `tracing.sample_ratio` (0–1, default 1): the share of new traces recorded; a request
    /// that carries a sampled `traceparent` follows its caller's decision.
    public var sampleRatio = 1.0
    /// `tracing.export_interval_ms` (100–60000, default 1000): how long finished spans wait
    /// to be sent in one batch.
    public var exportIntervalMs = 1000

    public init() {}

    /// Reads the `tracing` section.
    static func parse(_ section: inout YAMLSection) throws -> TracingSettings {
        var settings = TracingSettings()
        settings.enabled = try section.bool("enabled") ?? settings.enabled
        if let endpoint = try section.string("endpoint") {
            guard endpoint.utf8.count <= 2048, let url = URL(string: endpoint), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
                  url.host?.isEmpty == false else {
                throw ConfigurationError(key: "tracing.endpoint", problem: "must be an http(s) URL of at most 2048 bytes, got '\(endpoint.prefix(100))'")
            }
            settings.endpoint = endpoint
        }
        if let name = try section.string("protocol") {
            guard let value = WireProtocol(rawValue: name) else {
                throw ConfigurationError(key: "tracing.protocol", problem: "must be http/protobuf or http/json")
            }
            settings.wireProtocol = value
        }
        if let name = try section.string("service_name") {
            guard !name.isEmpty, name.utf8.count <= 128 else {
                throw ConfigurationError(key: "tracing.service_name", problem: "must be 1 to 128 bytes")
            }
            settings.serviceName = name
        }
        if let ratio = try section.double("sample_ratio") {
            guard ratio.isFinite, (0...1).contains(ratio) else {
                throw ConfigurationError(key: "tracing.sample_ratio", problem: "must be between 0 and 1, got \(ratio)")
            }
            settings.sampleRatio = ratio
        }
        settings.exportIntervalMs = try section.int("export_interval_ms", range: 100...60_000) ?? settings.exportIntervalMs
        try section.finish()
        return settings
    }
}
