import AfterimageCore
import AsyncHTTPClient
import Foundation
import NIOFoundationCompat
import NIOCore
import NIOHTTP1
import Synchronization

/// `ImageUpstream` over a pooled AsyncHTTPClient.
public final class HTTPImageUpstream: ImageUpstream {
    /// Timeouts and size limits for upstream calls.
    public struct Settings: Sendable {
        public var connectTimeout: TimeAmount
        public var readTimeout: TimeAmount
        /// Deadline for one whole call (request and full response body).
        public var requestTimeout: TimeAmount
        /// Largest response body accepted from a provider.
        public var maxResponseBytes: Int
        /// Deadline for downloading one image URL.
        public var downloadTimeout: TimeAmount

        public init(
            connectTimeout: TimeAmount = .seconds(10), readTimeout: TimeAmount = .seconds(180),
            requestTimeout: TimeAmount = .seconds(300), maxResponseBytes: Int = 256 << 20,
            downloadTimeout: TimeAmount = .seconds(60)
        ) {
            self.connectTimeout = connectTimeout
            self.readTimeout = readTimeout
            self.requestTimeout = requestTimeout
            self.maxResponseBytes = maxResponseBytes
            self.downloadTimeout = downloadTimeout
        }
    }

    let client: HTTPClient
    let settings: Settings

    public init(settings: Settings) {
        self.settings = settings
        var configuration = HTTPClient.Configuration(
            timeout: .init(connect: settings.connectTimeout, read: settings.readTimeout)
        )
        configuration.connectionPool = .init(idleTimeout: .seconds(60))
        // Redirects are never followed by the client: `download` follows same-host ones itself,
        // checking each hop; a provider API call has no reason to redirect.
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .enabled(limit: .ratio(50))
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes pooled connections; call once when the server stops.
    public func shutdown() async throws {
        try await client.shutdown()
    }

    deinit {
        // An upstream released without `shutdown()` — an application built but never run because
        // a later startup step failed, or whose shutdown was cancelled — still closes its pool
        // (AsyncHTTPClient traps in debug builds on a client released while running; the shutdown
        // keeps the client alive until it is done). On a client already shut down this is a no-op.
        client.shutdown(queue: .global()) { _ in }
    }

    public func send(_ call: UpstreamCall) async throws -> UpstreamReply {
        let response = try await client.execute(request(call, accept: "application/json"), timeout: settings.requestTimeout)
        let receivedAt = ContinuousClock.now
        let body = try await response.body.collect(upTo: settings.maxResponseBytes)
        return UpstreamReply(
            status: Int(response.status.code),
            retryAfter: response.headers.first(name: "Retry-After"),
            body: Data(buffer: body),
            receivedAt: receivedAt
        )
    }

    public func stream(_ call: UpstreamCall) async throws -> UpstreamReply {
        let response = try await client.execute(request(call, accept: "text/event-stream"), timeout: settings.requestTimeout)
        let receivedAt = ContinuousClock.now
        let status = Int(response.status.code)
        let isEvents = response.headers.first(name: "Content-Type")?.lowercased().hasPrefix("text/event-stream") == true
        guard (200..<300).contains(status), isEvents else {
            let body = try await response.body.collect(upTo: settings.maxResponseBytes)
            return UpstreamReply(status: status, retryAfter: response.headers.first(name: "Retry-After"), body: Data(buffer: body))
        }
        return UpstreamReply(status: status, body: Data(), stream: ResponseByteStream(response.body), receivedAt: receivedAt)
    }

    func request(_ call: UpstreamCall, accept: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: Self.join(call.provider.baseURL, call.path))
        request.method = .POST
        if let apiKey = call.provider.apiKey, !apiKey.isEmpty {
            request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        }
        request.headers.add(name: "Accept", value: accept)
        for (name, value) in call.traceHeaders.sorted(by: { $0.key < $1.key }) { request.headers.add(name: name, value: value) }
        switch call.body {
        case .json(let data):
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
        case .multipart(let data, let boundary):
            request.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
            request.body = .bytes(ByteBuffer(bytes: data))
        }
        return request
    }

    public func download(_ url: String, policy: ImageDownloadPolicy) async throws -> Data {
        guard url.utf8.count <= 8192, var current = URL(string: url) else { throw AddressGuard.Refused(reason: "not a URL") }
        let originalHost = current.host?.lowercased()
        for _ in 0...policy.maxRedirects {
            if let problem = policy.problem(current) { throw AddressGuard.Refused(reason: problem) }
            guard let host = current.host?.lowercased(), host == originalHost else {
                throw AddressGuard.Refused(reason: "redirect to another host")
            }
            let port = current.port ?? (current.scheme?.lowercased() == "https" ? 443 : 80)
            if !policy.allowPrivateNetworks { try await AddressGuard.check(host: host, port: port) }
            var request = HTTPClientRequest(url: current.absoluteString)
            request.method = .GET
            request.headers.add(name: "Accept", value: "image/*")
            let response = try await client.execute(request, timeout: settings.downloadTimeout)
            let status = Int(response.status.code)
            if (300..<400).contains(status), let location = response.headers.first(name: "Location"),
               let next = URL(string: String(location.prefix(8192)), relativeTo: current)?.absoluteURL {
                current = next
                continue
            }
            guard (200..<300).contains(status) else { throw DownloadError(status: status) }
            if let declared = response.headers.first(name: "Content-Length").flatMap({ Int($0) }), declared > policy.maxImageBytes {
                throw DownloadError(status: status, tooLarge: true)
            }
            do {
                return Data(buffer: try await response.body.collect(upTo: policy.maxImageBytes))
            } catch is NIOTooManyBytesError {
                throw DownloadError(status: status, tooLarge: true)
            }
        }
        throw AddressGuard.Refused(reason: "too many redirects")
    }

    static func join(_ base: String, _ path: String) -> String {
        var base = base
        while base.hasSuffix("/") { base.removeLast() }
        return base + path
    }
}

/// An AsyncHTTPClient response body read chunk by chunk (AHC asks the server for more only when a
/// chunk is taken, so a slow reader slows the upstream instead of growing a buffer).
final class ResponseByteStream: UpstreamByteStream, @unchecked Sendable {
    // One consumer calls `next()` at a time (the streaming responder); `cancel()` may come from
    // anywhere and only sets a flag. Releasing the iterator makes AsyncHTTPClient close the connection.
    private var iterator: HTTPClientResponse.Body.AsyncIterator?
    private let cancelled = Atomic<Bool>(false)

    init(_ body: HTTPClientResponse.Body) {
        iterator = body.makeAsyncIterator()
    }

    func next() async throws -> Data? {
        guard !cancelled.load(ordering: .acquiring), iterator != nil else {
            iterator = nil
            return nil
        }
        let chunk = try await iterator!.next()
        return chunk.map { Data(buffer: $0) }
    }

    func cancel() {
        cancelled.store(true, ordering: .releasing)
    }
}

/// An image URL answered with a non-2xx status.
public struct DownloadError: Error, CustomStringConvertible {
    public let status: Int
    /// The image is larger than the policy's `maxImageBytes`.
    public var tooLarge = false
    public var description: String { tooLarge ? "image larger than the download limit" : "image download answered HTTP \(status)" }
}
