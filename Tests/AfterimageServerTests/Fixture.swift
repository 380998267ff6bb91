import AfterimageCore
import AfterimageServer
import AfterimageTesting
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// A stub upstream, a gateway pointed at it and a fresh virtual key.
struct Fixture {
    let stub: StubUpstream
    let gateway: TestGateway
    let key: VirtualKey
    let secret: String

    var base: String { gateway.baseURL }

    static func start(
        urlLifetime: Duration = .seconds(3600),
        configure: (inout AfterimageConfiguration) -> Void = { _ in }
    ) async throws -> Fixture {
        let stub = StubUpstream(urlLifetime: urlLifetime)
        try await stub.start()
        let gateway = try await TestGateway(upstream: stub, configure: configure)
        let (key, secret) = try await gateway.createKey()
        return Fixture(stub: stub, gateway: gateway, key: key, secret: secret)
    }

    /// Stops both servers and removes the gateway's data directory.
    func stop() async {
        await gateway.stop()
        await stub.stop()
        try? FileManager.default.removeItem(at: gateway.dataDirectory)
    }

    func generate(_ body: [String: JSONValue], key: String? = nil, headers: [(String, String)] = []) async throws -> TestHTTP.Reply {
        try await TestHTTP.postJSON("\(base)/v1/images/generations", .object(body), key: key ?? secret, headers: headers)
    }

    func edit(_ form: TestHTTP.Form, key: String? = nil) async throws -> TestHTTP.Reply {
        try await TestHTTP.postForm("\(base)/v1/images/edits", form, key: key ?? secret)
    }

    /// An admin API call (admin key by default).
    func admin(_ method: HTTPMethod, _ path: String, _ body: JSONValue? = nil, key: String = TestGateway.adminKey) async throws -> TestHTTP.Reply {
        let data = try body.map { try JSONEncoder.afterimage.encode($0) }
        return try await TestHTTP.request(
            method, base + path,
            headers: [("Authorization", "Bearer \(key)"), ("Content-Type", "application/json")],
            body: data.map { .bytes(ByteBuffer(bytes: $0)) }
        )
    }

    /// `GET /metrics` with the admin key (the default `metrics.auth`).
    func metrics() async throws -> TestHTTP.Reply {
        try await get("/metrics", headers: [("Authorization", "Bearer \(TestGateway.adminKey)")])
    }

    func get(_ pathOrURL: String, headers: [(String, String)] = []) async throws -> TestHTTP.Reply {
        try await TestHTTP.request(.GET, pathOrURL.hasPrefix("http") ? pathOrURL : base + pathOrURL, headers: headers)
    }
}

/// Decodes `data[i].b64_json` of a success body.
func imageBytes(_ reply: TestHTTP.Reply, _ index: Int = 0) -> Data? {
    reply.json["data"]?.arrayValue?[index]["b64_json"]?.stringValue.flatMap { Data(base64Encoded: $0) }
}

/// Runs `body` with a started fixture and always stops it.
func withFixture(
    urlLifetime: Duration = .seconds(3600),
    configure: (inout AfterimageConfiguration) -> Void = { _ in },
    _ body: (Fixture) async throws -> Void
) async throws {
    let fixture = try await Fixture.start(urlLifetime: urlLifetime, configure: configure)
    do {
        try await body(fixture)
    } catch {
        await fixture.stop()
        throw error
    }
    await fixture.stop()
}
