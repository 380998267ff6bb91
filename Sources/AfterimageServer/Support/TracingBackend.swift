import AfterimageTracing
import Logging
import OTel
import ServiceLifecycle

/// Makes the gateway's tracer from `tracing.*`: an OpenTelemetry tracer exporting over OTLP/HTTP
/// with its batch processor as a service, or `.off`. The OTel SDK's own environment variables
/// (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_TRACES_SAMPLER`, …) override the file.
enum TracingBackend {
    static func make(_ settings: TracingSettings, logger: Logger) throws -> (tracer: RequestTracer, service: (any Service)?) {
        guard settings.enabled else { return (.off, nil) }
        var configuration = OTel.Configuration.default
        configuration.serviceName = settings.serviceName
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        // A caller's sampled `traceparent` keeps its decision; new traces are sampled by ratio.
        guard let sampler = OTel.Configuration.TracesConfiguration.SamplerConfiguration.parentBasedTraceIDRatio(ratio: settings.sampleRatio) else {
            throw ConfigurationError(key: "tracing.sample_ratio", problem: "must be between 0 and 1")
        }
        configuration.traces.sampler = sampler
        configuration.traces.batchSpanProcessor.scheduleDelay = .milliseconds(settings.exportIntervalMs)
        var base = settings.endpoint
        while base.hasSuffix("/") { base.removeLast() }
        configuration.traces.otlpExporter.endpoint = base + "/v1/traces"
        configuration.traces.otlpExporter.protocol = settings.wireProtocol == .json ? .httpJSON : .httpProtobuf
        configuration.diagnosticLogger = .custom(logger)
        let (tracer, service) = try OTel.makeTracingBackend(configuration: configuration)
        return (RequestTracer(tracer), service)
    }
}
