import AfterimageCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Outermost middleware: renders every error in the OpenAI envelope, adds `x-request-id`,
/// writes one log line per request (request id, key id — never the key —, model, status, cache
/// outcome, latency) and records request metrics.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = AfterimageRequestContext
    let logger: Logger
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let clock = ContinuousClock()
        let start = clock.now
        var response: Response
        var errorCode: String?
        do {
            response = try await next(request, context)
        } catch {
            let failure = AfterimageError.from(error)
            errorCode = failure.code.rawValue
            if failure.statusCode >= 500 && failure.code == .internalError {
                logger.error("unhandled error", metadata: [
                    "request_id": .string(context.info.values.requestID),
                    "error": .string(LogText.bounded(failure.detail ?? failure.message, 1000)),
                ])
            }
            response = failure.response(extraFields: context.info.errorExtraFields, requestID: context.info.values.requestID)
        }
        let info = context.info.values
        response.headers[HTTPField.Name("x-request-id")!] = info.requestID
        let duration = clock.now - start
        let status = Int(response.status.code)
        if let endpoint = info.endpoint {
            metrics.recordRequest(
                endpoint: endpoint.rawValue, model: info.modelLabel ?? "unknown", status: status,
                cache: info.cacheOutcome.rawValue, duration: duration
            )
        }
        var metadata: Logger.Metadata = [
            "request_id": .string(info.requestID),
            "method": .string(request.method.rawValue),
            "path": .string(LogText.bounded(request.uri.path, 256)),
            "status": .stringConvertible(status),
            "latency_ms": .stringConvertible(Self.milliseconds(duration)),
        ]
        if let keyID = info.keyID { metadata["key_id"] = .string(keyID) }
        if let model = info.modelRequested { metadata["model"] = .string(LogText.bounded(model, 200)) }
        if info.endpoint != nil { metadata["cache"] = .string(info.cacheOutcome.rawValue) }
        if info.upstreamAttempts > 0 { metadata["upstream_attempts"] = .stringConvertible(info.upstreamAttempts) }
        if let errorCode { metadata["error"] = .string(errorCode) }
        logger.info("request", metadata: metadata)
        return response
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}
