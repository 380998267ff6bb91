import AfterimageCore
import AfterimageTesting
import Foundation
import NIOCore
import Testing

/// A NUL character in any text a client or admin sends is a clean 4xx on both backends
/// (PostgreSQL text cannot hold one; SQLite would store it where nothing can match it). Found by
/// the schemathesis contract run: a NUL in an admin query gave a 500 on PostgreSQL.
@Suite struct NULByteTests {
    @Test func nulCharactersInEveryTextInputAreRefusedCleanly() async throws {
        try await withFixture { f in
            var statuses = [String: Int]()
            func note(_ name: String, _ reply: TestHTTP.Reply) {
                statuses[name] = reply.status
                #expect(reply.status < 500, "\(name): \(reply.status) \(String(decoding: reply.body.prefix(300), as: UTF8.self))")
                if reply.status >= 400 { #expect(reply.json["error"]?["code"] != nil, "\(name) answers the error envelope") }
            }
            // Image requests: prompt, model, size, user, fallbacks.
            for (field, value) in [("prompt", JSONValue.string("a cat\u{0}on a mat")), ("model", "gpt-\u{0}image-1"), ("size", "1024x\u{0}1024"), ("user", "u\u{0}"), ("fallbacks", .array(["gpt-image-1-\u{0}mini"]))] {
                var body: [String: JSONValue] = ["model": "gpt-image-1", "prompt": "a cat on a mat"]
                body[field] = value
                let reply = try await f.generate(body)
                note("generation \(field)", reply)
                #expect(reply.status == 400 && reply.errorParam == field, "\(field): \(reply.status)")
            }
            // Admin queries and paths.
            for path in [
                "/admin/cache/lookups?namespace=a%00b", "/admin/cache/what-if?threshold=0.5&namespace=a%00b",
                "/admin/cache/labels/export?namespace=a%00b", "/admin/cache/suggest-threshold?namespace=a%00b",
                "/admin/namespaces/a%00b", "/admin/keys/key_%00", "/admin/usage?from=2026-01-01&to=2027-01-01&group_by=key%00",
            ] {
                note("GET \(path)", try await f.admin(.GET, path))
            }
            note("DELETE purge", try await f.admin(.DELETE, "/admin/cache/entries?namespace=a%00b&model=m%00"))
            // Admin bodies.
            note("POST key name", try await f.admin(.POST, "/admin/keys", ["name": "fin\u{0}ance"]))
            note("POST key namespace", try await f.admin(.POST, "/admin/keys", ["name": "finance", "namespace": "ns\u{0}"]))
            note("POST key models", try await f.admin(.POST, "/admin/keys", ["name": "finance", "models": ["gpt-\u{0}image-1"]]))
            note("PATCH namespace", try await f.admin(.PATCH, "/admin/namespaces/a%00b", ["rpm": 10]))
            note("PUT settings", try await f.admin(.PUT, "/admin/cache/settings", ["namespace": "n\u{0}", "threshold": 0.9]))
            note("POST labels", try await f.admin(.POST, "/admin/cache/labels", ["id": 1, "label": "same", "by": "al\u{0}ice"]))
            // The gateway still answers normally afterwards.
            #expect(try await f.generate(["model": "gpt-image-1", "prompt": "a cat on a mat"]).status == 200)
            #expect(statuses["POST key name"] == 400)
        }
    }
}
