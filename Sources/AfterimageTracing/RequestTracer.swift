import ServiceContextModule
import Tracing

/// Where a gateway's spans go: nowhere (tracing off: no span is made, the work runs as is) or an
/// OpenTelemetry tracer. Held per gateway rather than bootstrapped process-wide, so several
/// gateways in one process (the tests) trace independently.
public struct RequestTracer: Sendable {
    let tracer: (any Tracer)?

    /// Tracing off.
    public static let off = RequestTracer(nil)

    public init(_ tracer: (any Tracer)?) {
        self.tracer = tracer
    }

    /// Whether spans are recorded.
    public var isOn: Bool { tracer != nil }

    /// Runs `body` in a child span of the current one (`ServiceContext.current`), or as a root
    /// span of `parent` when given. An error thrown through it is recorded and marks the span
    /// failed. With tracing off, `body` gets nil and runs directly.
    public func span<T>(
        _ name: String, kind: SpanKind = .internal, parent: ServiceContext? = nil,
        _ body: (_ span: (any Span)?) async throws -> T
    ) async rethrows -> T {
        guard let tracer else { return try await body(nil) }
        let span = tracer.startSpan(name, context: parent ?? ServiceContext.current ?? .topLevel, ofKind: kind)
        defer { span.end() }
        do {
            return try await ServiceContext.$current.withValue(span.context) { try await body(span) }
        } catch {
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error))
            throw error
        }
    }

    /// The W3C trace headers (`traceparent`, `tracestate`) of the current span, for an outgoing
    /// request; empty with tracing off or outside a span.
    public func outgoingHeaders() -> [String: String] {
        guard let tracer, let context = ServiceContext.current else { return [:] }
        var headers = [String: String]()
        tracer.inject(context, into: &headers, using: HeaderInjector())
        return headers
    }

    /// The caller's trace context from its request headers (`traceparent`, `tracestate`, by
    /// lower-case name), so the gateway's spans join the caller's trace; `.topLevel` without one.
    public func incomingContext(_ headers: [String: String]) -> ServiceContext {
        guard let tracer else { return .topLevel }
        var context = ServiceContext.topLevel
        tracer.extract(headers, into: &context, using: HeaderExtractor())
        return context
    }
}

struct HeaderInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key.lowercased()] = value
    }
}

struct HeaderExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? {
        // A header value longer than a W3C `traceparent`/`tracestate` allows is ignored.
        guard let value = carrier[key.lowercased()], value.utf8.count <= 512 else { return nil }
        return value
    }
}
