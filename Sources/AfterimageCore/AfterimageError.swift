import Foundation

/// An error that reaches a client, rendered in the OpenAI error envelope:
/// `{"error": {"message", "type", "param", "code"}, "extra_fields": {…}}`.
public struct AfterimageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The machine-readable code sent as `error.code`: a closed set, plus an upstream's own code
    /// passed through (bounded) when the provider refused a request.
    public enum Code: Sendable, Hashable, CustomStringConvertible {
        case invalidPayload
        case invalidRequest
        case unauthorized
        case modelNotFound
        case notFound
        case payloadTooLarge
        case requestTimeout
        case rateLimited
        case serverBusy
        case upstreamUnavailable
        /// The database cannot be reached (PostgreSQL down): nothing was served or recorded.
        case storageUnavailable
        case invalidSignature
        case expired
        case internalError
        /// The provider's own `error.code` (at most 64 characters), or `upstream_error` when it sent none.
        case upstream(String?)

        public var rawValue: String {
            switch self {
            case .invalidPayload: "invalid_payload"
            case .invalidRequest: "invalid_request"
            case .unauthorized: "unauthorized"
            case .modelNotFound: "model_not_found"
            case .notFound: "not_found"
            case .payloadTooLarge: "payload_too_large"
            case .requestTimeout: "request_timeout"
            case .rateLimited: "rate_limited"
            case .serverBusy: "server_busy"
            case .upstreamUnavailable: "upstream_unavailable"
            case .storageUnavailable: "storage_unavailable"
            case .invalidSignature: "invalid_signature"
            case .expired: "expired"
            case .internalError: "internal_error"
            case .upstream(let code): code.map { String($0.prefix(64)) } ?? "upstream_error"
            }
        }

        public var description: String { rawValue }
    }

    /// HTTP status code (the server module also offers it as `status`, an `HTTPResponse.Status`).
    public var statusCode: Int
    public var code: Code
    public var message: String
    /// The request field the error is about, if any.
    public var param: String?
    /// OpenAI error `type`; derived from the status when nil.
    public var type: String?
    /// Seconds the client should wait before retrying (sent as `Retry-After`).
    public var retryAfterSeconds: Int?
    /// What went wrong in detail, for the server log only (never rendered to the client:
    /// it may hold file paths or upstream internals).
    public var detail: String?

    public init(status: Int, code: Code, message: String, param: String? = nil, type: String? = nil, retryAfterSeconds: Int? = nil) {
        self.statusCode = status
        self.code = code
        self.message = message
        self.param = param
        self.type = type
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(statusCode) \(code): \(message)" + (detail.map { " (\($0))" } ?? "") }

    /// The OpenAI `type` field.
    public var errorType: String {
        if let type { return type }
        switch statusCode {
        case 401: return "authentication_error"
        case 403: return "permission_error"
        case 404: return "invalid_request_error"
        case 429: return "rate_limit_error"
        case 500...: return "server_error"
        default: return "invalid_request_error"
        }
    }

    public static func invalidPayload(_ message: String, param: String? = nil) -> Self {
        .init(status: 400, code: .invalidPayload, message: message, param: param)
    }

    public static func unauthorized(_ message: String) -> Self {
        .init(status: 401, code: .unauthorized, message: message)
    }

    public static func modelNotFound(_ model: String, param: String = "model", reason: String? = nil) -> Self {
        .init(status: 404, code: .modelNotFound, message: reason ?? "The model '\(LogText.echo(model))' does not exist or is not available to this key.", param: param)
    }

    public static func notFound(_ message: String) -> Self {
        .init(status: 404, code: .notFound, message: message)
    }

    /// A text input holding U+0000, named by `param`.
    public static func nulCharacters(param: String) -> Self {
        invalidPayload("'\(param)' must not contain NUL characters.", param: param)
    }

    public static func payloadTooLarge(limit: Int) -> Self {
        .init(status: 413, code: .payloadTooLarge, message: "Request body exceeds the limit of \(limit) bytes.")
    }

    public static func upstreamUnavailable(_ message: String) -> Self {
        .init(status: 503, code: .upstreamUnavailable, message: message)
    }

    public static func internalError(_ message: String) -> Self {
        .init(status: 500, code: .internalError, message: message)
    }

    /// The envelope body. `extraFields` is added as `extra_fields` when not empty.
    public func envelope(extraFields: [String: JSONValue] = [:]) -> JSONValue {
        let error: [String: JSONValue] = [
            "message": .string(message),
            "type": .string(errorType),
            "param": param.map(JSONValue.string) ?? .null,
            "code": .string(code.rawValue),
        ]
        var body: [String: JSONValue] = ["error": .object(error)]
        if !extraFields.isEmpty { body["extra_fields"] = .object(extraFields) }
        return .object(body)
    }
}
