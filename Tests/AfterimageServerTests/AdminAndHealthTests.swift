import AfterimageCore
import AfterimageTesting
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@Suite struct AdminAndHealthTests {
    func admin(_ f: Fixture, _ method: HTTPMethod, _ path: String, _ body: JSONValue? = nil, key: String = TestGateway.adminKey) async throws -> TestHTTP.Reply {
        try await f.admin(method, path, body, key: key)
    }

    @Test func keyLifecycleThroughTheAdminAPI() async throws {
        try await withFixture { f in
            #expect(try await admin(f, .GET, "/admin/keys", key: "wrong").status == 401)
            let created = try await admin(f, .POST, "/admin/keys", .object(["name": "finance", "namespace": "team-a", "models": .array([.string("gpt-image-1")]), "expires_at": "2099-12-31"]))
            #expect(created.status == 201)
            let id = try #require(created.json["id"]?.stringValue)
            let secret = try #require(created.json["key"]?.stringValue)
            #expect(secret.hasPrefix("sk-af-"))
            #expect(created.json["namespace"]?.stringValue == "team-a")
            #expect(created.json["expires_at"]?.stringValue == "2100-01-01T00:00:00Z")

            #expect(try await f.generate(["model": "gpt-image-1", "prompt": "x"], key: secret).status == 200)
            let listed = try await admin(f, .GET, "/admin/keys")
            #expect(listed.json["data"]?.arrayValue?.contains { $0["id"]?.stringValue == id } == true)
            #expect(!String(decoding: listed.body, as: UTF8.self).contains(secret), "secrets are shown once only")
            #expect(!String(decoding: listed.body, as: UTF8.self).contains(KeySecret.hash(secret)))

            let patched = try await admin(f, .PATCH, "/admin/keys/\(id)", .object(["name": "finance-2", "models": .null]))
            #expect(patched.json["name"]?.stringValue == "finance-2")
            #expect(patched.json["models"] == .null)

            let rotated = try await admin(f, .POST, "/admin/keys/\(id)/rotate")
            let newSecret = try #require(rotated.json["key"]?.stringValue)
            #expect(rotated.json["id"]?.stringValue == id)
            #expect(try await f.generate(["model": "gpt-image-1", "prompt": "x"], key: secret).status == 401)
            #expect(try await f.generate(["model": "dall-e-2", "prompt": "x", "size": "256x256"], key: newSecret).status == 200)

            #expect(try await admin(f, .DELETE, "/admin/keys/\(id)").status == 200)
            #expect(try await admin(f, .GET, "/admin/keys/\(id)").json["status"]?.stringValue == "revoked")
            #expect(try await f.generate(["model": "gpt-image-1", "prompt": "x"], key: newSecret).status == 401)
            #expect(try await admin(f, .GET, "/admin/keys/key_nope").status == 404)
            #expect(try await admin(f, .POST, "/admin/keys", .object(["namespace": "x"])).errorParam == "name")
        }
    }

    @Test func keyCreatedOutsideTheServerWorksAtOnce() async throws {
        try await withFixture { f in
            let (_, secret) = try await f.gateway.createKey(name: "cli")
            #expect(try await f.generate(["model": "gpt-image-1", "prompt": "x"], key: secret).status == 200)
        }
    }

    @Test func healthReadinessAndMetrics() async throws {
        try await withFixture { f in
            #expect(try await f.get("/healthz").status == 200)
            let ready = try await f.get("/readyz")
            #expect(ready.status == 200 && ready.json["database"] == .bool(true))
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "metrics"])
            _ = try await f.generate(["model": "gpt-image-9", "prompt": "metrics"])
            let metrics = try await f.metrics()
            let text = String(decoding: metrics.body, as: UTF8.self)
            #expect(metrics.headers.first(name: "content-type")?.hasPrefix("text/plain") == true)
            #expect(text.contains(#"afterimage_requests_total{endpoint="generations",model="gpt-image-1",status="200",cache="miss"} 1"#))
            #expect(text.contains(#"afterimage_requests_total{endpoint="generations",model="unknown",status="404",cache="bypass"} 1"#))
            #expect(text.contains("afterimage_request_duration_seconds_bucket"))
            #expect(text.contains("afterimage_upstream_duration_seconds_bucket"))
            #expect(!text.contains(f.secret))
        }
    }

    @Test func unknownRouteUsesTheEnvelope() async throws {
        try await withFixture { f in
            let reply = try await f.get("/v1/nothing-here")
            #expect(reply.status == 404)
            #expect(reply.errorCode == "not_found")
        }
    }
}
