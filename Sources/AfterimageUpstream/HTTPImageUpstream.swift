import AfterimageCore
import AsyncHTTPClient
import Foundation
import NIOFoundationCompat
import NIOCore
import NIOHTTP1

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
        configuration.decompression = .enabled(limit: .ratio(50))
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes pooled connections; call once when the server stops.
    public func shutdown() async throws {
        try await client.shutdown()
    }

    public func send(_ call: UpstreamCall) async throws -> UpstreamReply {
        var request = HTTPClientRequest(url: Self.join(call.provider.baseURL, call.path))
        request.method = .POST
        if let apiKey = call.provider.apiKey, !apiKey.isEmpty {
            request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        }
        request.headers.add(name: "Accept", value: "application/json")
        switch call.body {
        case .json(let data):
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
        case .multipart(let data, let boundary):
            request.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
            request.body = .bytes(ByteBuffer(bytes: data))
        }
        let response = try await client.execute(request, timeout: settings.requestTimeout)
        let body = try await response.body.collect(upTo: settings.maxResponseBytes)
        return UpstreamReply(
            status: Int(response.status.code),
            retryAfter: response.headers.first(name: "Retry-After"),
            body: Data(buffer: body)
        )
    }

    public func download(_ url: String) async throws -> Data {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        let response = try await client.execute(request, timeout: settings.downloadTimeout)
        let body = try await response.body.collect(upTo: settings.maxResponseBytes)
        guard (200..<300).contains(Int(response.status.code)) else {
            throw DownloadError(status: Int(response.status.code))
        }
        return Data(buffer: body)
    }

    static func join(_ base: String, _ path: String) -> String {
        var base = base
        while base.hasSuffix("/") { base.removeLast() }
        return base + path
    }
}

/// An image URL answered with a non-2xx status.
public struct DownloadError: Error, CustomStringConvertible {
    public let status: Int
    public var description: String { "image download answered HTTP \(status)" }
}
