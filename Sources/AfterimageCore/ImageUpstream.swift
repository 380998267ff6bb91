import Foundation

/// Where a provider lives and how to authenticate to it. The key never leaves the server.
public struct ProviderEndpoint: Sendable, Equatable {
    public var name: String
    /// Base URL including the version path, e.g. `https://api.openai.com/v1`.
    public var baseURL: String
    public var apiKey: String?
    /// Hosts this provider's image URLs may live on (`host`, `host:port` or `*.suffix`).
    public var imageHosts: [String]

    public init(name: String, baseURL: String, apiKey: String?, imageHosts: [String]? = nil) {
        self.name = name
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.imageHosts = imageHosts ?? Self.defaultImageHosts(baseURL: baseURL)
    }

    /// The provider's own host (with its port when the base URL names one) and, for OpenAI, the
    /// CDN its DALL·E URLs are served from.
    public static func defaultImageHosts(baseURL: String) -> [String] {
        guard let components = URLComponents(string: baseURL), let host = components.host?.lowercased(), !host.isEmpty else { return [] }
        var hosts = [components.port.map { "\(host):\($0)" } ?? host]
        if host == "api.openai.com" { hosts += ["oaidalleapiprodscus.blob.core.windows.net", "*.oaiusercontent.com"] }
        return hosts
    }
}

/// What an image URL returned by a provider must satisfy before the gateway fetches it.
public struct ImageDownloadPolicy: Sendable, Equatable {
    /// Plain `http` URLs are fetched too (default: `https` only).
    public var allowHTTP = false
    /// Addresses in loopback, private, link-local, CGNAT, multicast and unique-local ranges may
    /// be fetched (default: refused; only for a provider on your own network, or tests).
    public var allowPrivateNetworks = false
    /// Hosts the URL may name (`host`, `host:port`, `*.suffix`); the provider's `imageHosts`.
    public var allowedHosts: [String] = []
    /// Largest image fetched.
    public var maxImageBytes = 64 << 20
    /// Redirects followed, each to the same host only.
    public var maxRedirects = 3

    public init(allowHTTP: Bool = false, allowPrivateNetworks: Bool = false, allowedHosts: [String] = [], maxImageBytes: Int = 64 << 20) {
        self.allowHTTP = allowHTTP
        self.allowPrivateNetworks = allowPrivateNetworks
        self.allowedHosts = allowedHosts
        self.maxImageBytes = maxImageBytes
    }

    /// Why `url` may not be fetched (scheme, credentials, host), or nil when it may
    /// (the resolved addresses are checked separately, at connect time).
    public func problem(_ url: URL) -> String? {
        guard let scheme = url.scheme?.lowercased(), scheme == "https" || (scheme == "http" && allowHTTP) else {
            return "scheme '\(String((url.scheme ?? "").prefix(16)))' is not allowed" + (allowHTTP ? "" : " (https only)")
        }
        guard url.user == nil, url.password == nil else { return "URLs with credentials are not fetched" }
        guard let host = url.host?.lowercased(), !host.isEmpty else { return "the URL has no host" }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        let allowed = allowedHosts.contains { pattern in
            let pattern = pattern.lowercased()
            if pattern.hasPrefix("*.") { return host.hasSuffix(String(pattern.dropFirst(1))) }
            if let colon = pattern.lastIndex(of: ":"), let patternPort = Int(pattern[pattern.index(after: colon)...]) {
                return String(pattern[..<colon]) == host && patternPort == port
            }
            return pattern == host
        }
        return allowed ? nil : "host '\(String(host.prefix(64)))' is not an allowed image host of this provider"
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
    /// W3C trace headers (`traceparent`, `tracestate`) of the attempt's span, sent as they are.
    public var traceHeaders: [String: String] = [:]

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
    /// When the response head arrived (the first upstream byte); nil from transports that do not say.
    public var receivedAt: ContinuousClock.Instant?

    public init(status: Int, retryAfter: String? = nil, body: Data, stream: (any UpstreamByteStream)? = nil, receivedAt: ContinuousClock.Instant? = nil) {
        self.status = status
        self.retryAfter = retryAfter
        self.body = body
        self.stream = stream
        self.receivedAt = receivedAt
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
    /// Downloads an image from a URL the provider returned, if `policy` allows it (scheme, host,
    /// resolved addresses, redirects, size).
    func download(_ url: String, policy: ImageDownloadPolicy) async throws -> Data
}
