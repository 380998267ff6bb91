import AfterimageCore
import AfterimageTracing
import HTTPTypes
import Hummingbird
import Tracing

/// The root span of every request (`METHOD /route`, kind server), joined to the caller's trace
/// when it sends a W3C `traceparent`. Inside `RequestLogMiddleware`, so it sees errors before they
/// are rendered. Does nothing when tracing is off.
struct RequestTracingMiddleware: RouterMiddleware {
    typealias Context = AfterimageRequestContext
    let tracer: RequestTracer

    static let traceHeaders = ["traceparent", "tracestate"].compactMap { name in HTTPField.Name(name).map { (name, $0) } }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard tracer.isOn else { return try await next(request, context) }
        var carrier = [String: String]()
        for (name, field) in Self.traceHeaders {
            if let value = request.headers[field] { carrier[name] = value }
        }
        return try await tracer.span(request.method.rawValue, kind: .server, parent: tracer.incomingContext(carrier)) { span in
            span?.attributes["http.request.method"] = request.method.rawValue
            do {
                let response = try await next(request, context)
                finish(span, context: context, request: request, status: Int(response.status.code), error: nil)
                return response
            } catch {
                let failure = AfterimageError.from(error)
                finish(span, context: context, request: request, status: failure.statusCode, error: failure.code.rawValue)
                throw error
            }
        }
    }

    /// Names the span after the matched route (known only once the router ran) and records the
    /// outcome: status, request id, key id (never the key), cache outcome, error code.
    func finish(_ span: (any Span)?, context: Context, request: Request, status: Int, error: String?) {
        guard let span else { return }
        let route = context.endpointPath ?? "unmatched"
        span.operationName = "\(request.method.rawValue) \(route)"
        span.attributes["http.route"] = route
        span.attributes["http.response.status_code"] = status
        let info = context.info.values
        span.attributes["afterimage.request_id"] = info.requestID
        if let keyID = info.keyID { span.attributes["afterimage.key_id"] = keyID }
        if info.endpoint != nil { span.attributes["afterimage.cache"] = info.cacheOutcome.rawValue }
        if let error { span.attributes["afterimage.error_code"] = error }
        if status >= 500 { span.setStatus(SpanStatus(code: .error)) }
    }
}
