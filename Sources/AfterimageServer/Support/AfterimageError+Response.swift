import AfterimageCore
import Foundation
import HTTPTypes
import Hummingbird

/// Hummingbird renders an `AfterimageError` thrown anywhere as the OpenAI envelope; the request-log
/// middleware renders the pipeline's errors itself, adding the request's `extra_fields` and id.
extension AfterimageError: HTTPResponseError {
    public var status: HTTPResponse.Status { HTTPResponse.Status(code: statusCode) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response(extraFields: [:], requestID: nil)
    }
}

extension AfterimageError {
    /// The error as an HTTP response in the OpenAI envelope.
    func response(extraFields: [String: JSONValue], requestID: String?) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfterSeconds { headers[.retryAfter] = String(max(retryAfterSeconds, 0)) }
        if let requestID { headers[HTTPField.Name("x-request-id")!] = requestID }
        let data = JSONWriter.bytes(envelope(extraFields: extraFields))
        return Response(
            status: status,
            headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    /// Any error as an `AfterimageError`: Hummingbird's own (unknown route, wrong method) keep their status.
    static func from(_ error: any Error) -> AfterimageError {
        switch error {
        case let error as AfterimageError:
            return error
        case let error as StorageUnavailable:
            return error.clientError
        case let error as HTTPError:
            let status = Int(error.status.code)
            let code: Code = switch status {
            case 404: .notFound
            case 413: .payloadTooLarge
            case 401: .unauthorized
            default: status >= 500 ? .internalError : .invalidRequest
            }
            return AfterimageError(status: status, code: code, message: error.body ?? error.status.reasonPhrase)
        default:
            // The detail (it may name files or internals) goes to the log, not to the client.
            var failure = AfterimageError.internalError("Internal error; the server log has the details (see x-request-id).")
            failure.detail = LogText.bounded(String(describing: error), 1000)
            return failure
        }
    }
}

/// Helpers for JSON answers.
enum JSONResponse {
    /// A JSON response of `value` with `status`.
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json"
        let data = JSONWriter.bytes(value)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
