import Foundation

/// Where a provider lives and how to authenticate to it. The key never leaves the server.
public struct ProviderEndpoint: Sendable, Equatable {
    public var name: String
    /// Base URL including the version path, e.g. `https://api.openai.com/v1`.
    public var baseURL: String
    public var apiKey: String?

    public init(name: String, baseURL: String, apiKey: String?) {
        self.name = name
        self.baseURL = baseURL
        self.apiKey = apiKey
    }
}

/// The body of an upstream call.
public enum UpstreamBody: Sendable, Equatable {
    case json(Data)
    case multipart(Data, boundary: String)
}

/// One HTTP call to a provider.
public struct UpstreamCall: Sendable, Equatable {
    public var provider: ProviderEndpoint
    /// Path below the base URL, e.g. `/images/generations`.
    public var path: String
    public var body: UpstreamBody

    public init(provider: ProviderEndpoint, path: String, body: UpstreamBody) {
        self.provider = provider
        self.path = path
        self.body = body
    }
}

/// A streamed response body, read chunk by chunk with backpressure (the next chunk is requested
/// only when the previous one was taken). One consumer at a time.
public protocol UpstreamByteStream: Sendable {
    /// The next chunk, or nil at the end; throws when the connection breaks.
    func next() async throws -> Data?
    /// Stops reading and closes the connection.
    func cancel()
}

/// A provider's HTTP answer, whatever its status.
public struct UpstreamReply: Sendable, Equatable {
    public var status: Int
    /// The `Retry-After` header, if present.
    public var retryAfter: String?
    public var body: Data
    /// For a successful streamed call (`stream=true`): the event stream, not yet read (`body` is empty).
    public var stream: (any UpstreamByteStream)?

    public init(status: Int, retryAfter: String? = nil, body: Data, stream: (any UpstreamByteStream)? = nil) {
        self.status = status
        self.retryAfter = retryAfter
        self.body = body
        self.stream = stream
    }

    public static func == (a: UpstreamReply, b: UpstreamReply) -> Bool {
        a.status == b.status && a.retryAfter == b.retryAfter && a.body == b.body && (a.stream == nil) == (b.stream == nil)
    }
}

/// Transport to OpenAI-compatible image providers.
public protocol ImageUpstream: Sendable {
    /// Sends one call and returns the reply; throws only on transport failure (refused, dropped, timed out).
    func send(_ call: UpstreamCall) async throws -> UpstreamReply
    /// Sends one streamed call: a 2xx reply carries the unread event stream, any other its body.
    func stream(_ call: UpstreamCall) async throws -> UpstreamReply
    /// Downloads an image from a URL the provider returned (with a size limit).
    func download(_ url: String) async throws -> Data
}
