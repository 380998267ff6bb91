import AfterimageCore
import AfterimageServer
import AfterimageStorage
import AfterimageTesting
import Foundation
import GRDB
import NIOCore
import Testing

/// Hostile clients: every input is bounded before anything durable is written, errors name the
/// field and quote at most 64 characters, and rate limits apply before any cost.
@Suite struct HostileInputTests {
    func raw(_ f: Fixture, _ body: Data, key: String?) async throws -> TestHTTP.Reply {
        var headers = [("Content-Type", "application/json")]
        if let key { headers.append(("Authorization", "Bearer \(key)")) }
        return try await TestHTTP.request(.POST, "\(f.base)/v1/images/generations", headers: headers, body: .bytes(ByteBuffer(bytes: body)))
    }

    /// The row of a reply, which must exist and be small.
    func smallRow(_ f: Fixture, _ reply: TestHTTP.Reply) async throws -> UsageRecord {
        let id = try #require(reply.headers.first(name: "x-request-id"))
        let row = try #require(try await f.gateway.ledgerRow(id))
        let size = "\(row)".utf8.count
        #expect(size < 4096, "ledger row of \(size) bytes")
        return row
    }

    func expectBounded(_ reply: TestHTTP.Reply, status: Int, param: String?) {
        #expect(reply.status == status)
        if let param { #expect(reply.errorParam == param) }
        #expect(reply.body.count < 1024, "error body of \(reply.body.count) bytes")
    }

    @Test func oversizedFieldsAreRefusedNamingTheField() async throws {
        try await withFixture { f in
            let long = String(repeating: "m", count: 300)
            expectBounded(try await f.generate(["model": .string(long), "prompt": "x"]), status: 400, param: "model")
            expectBounded(try await f.generate(["model": "gpt-image-1", "prompt": "x", "user": .string(String(repeating: "u", count: 300))]), status: 400, param: "user")
            expectBounded(try await f.generate(["model": "gpt-image-1", "prompt": "x", "size": .string(String(repeating: "9", count: 100))]), status: 400, param: "size")
            expectBounded(try await f.generate(["model": "gpt-image-1", "prompt": "x", "quality": .string(String(repeating: "q", count: 65))]), status: 400, param: "quality")
            // A 5 MB model string: the body is over max_json_bytes, refused while reading.
            let huge = try JSONEncoder().encode(JSONValue.object(["model": .string(String(repeating: "m", count: 5_000_000)), "prompt": "x"]))
            let big = try await raw(f, huge, key: f.secret)
            expectBounded(big, status: 413, param: nil)
            _ = try await smallRow(f, big)
            // One letter and 40,000 combining marks: one character, but 80,001 bytes.
            let marks = "a" + String(repeating: "\u{0301}", count: 40_000)
            let combining = try await f.generate(["model": "gpt-image-1", "prompt": .string(marks)])
            expectBounded(combining, status: 400, param: "prompt")
            #expect(combining.json["error"]?["message"]?.stringValue?.contains("bytes") == true)
            _ = try await smallRow(f, combining)
            #expect(f.stub.servedCount == 0)
        }
    }

    @Test func deepJSONAndManyFieldsAreRefused() async throws {
        try await withFixture { f in
            let deep = Data(("{\"model\":\"gpt-image-1\",\"prompt\":\"x\",\"extra\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}").utf8)
            expectBounded(try await raw(f, deep, key: f.secret), status: 400, param: nil)
            let shallow = Data(("{\"model\":\"gpt-image-1\",\"prompt\":\"x\",\"extra\":" + String(repeating: "[", count: 20) + String(repeating: "]", count: 20) + "}").utf8)
            expectBounded(try await raw(f, shallow, key: f.secret), status: 400, param: "extra")
            var fields: [String: JSONValue] = ["model": "gpt-image-1", "prompt": "x"]
            for index in 0..<100 { fields["f\(index)"] = "v" }
            expectBounded(try await f.generate(fields), status: 400, param: nil)
            #expect(f.stub.servedCount == 0)
        }
    }

    @Test func multipartPartsAreBounded() async throws {
        try await withFixture { f in
            var many = TestHTTP.Form()
            many.field("model", "gpt-image-1")
            many.field("prompt", "x")
            for index in 0..<70 { many.field("x\(index)", "v") }
            many.file("image", filename: "a.png", data: TestImages.png(width: 64, height: 64, seed: "a"), contentType: "image/png")
            expectBounded(try await f.edit(many), status: 400, param: nil)
            var long = TestHTTP.Form()
            long.field("model", "gpt-image-1")
            long.field("prompt", String(repeating: "p", count: 70_000))
            long.file("image", filename: String(repeating: "n", count: 5000), data: TestImages.png(width: 64, height: 64, seed: "a"), contentType: "image/png")
            expectBounded(try await f.edit(long), status: 400, param: "prompt")
            #expect(f.stub.servedCount == 0)
        }
    }

    @Test func requestsPerMinuteCountRequestsThatEndIn4xx() async throws {
        try await withFixture { f in
            let (_, secret) = try await f.gateway.createKey(name: "rpm two", limits: SpendLimits(requestsPerMinute: 2))
            var statuses = [Int]()
            for _ in 0..<5 {
                statuses.append(try await f.generate(["model": .string(String(repeating: "z", count: 150)), "prompt": "x"], key: secret).status)
            }
            #expect(statuses == [404, 404, 429, 429, 429])
        }
    }

    @Test func unauthenticatedRequestsAreAggregatedAndThrottled() async throws {
        try await withFixture(configure: { $0.server.unauthenticatedRPM = 50 }) { f in
            let since = Date().addingTimeInterval(-120)
            var statuses = [Int: Int]()
            for _ in 0..<200 {
                let reply = try await TestHTTP.postJSON("\(f.base)/v1/images/generations", ["model": "gpt-image-1", "prompt": "x"], key: nil)
                statuses[reply.status, default: 0] += 1
                #expect(reply.headers.first(name: "x-request-id").map { id in id.isEmpty } == false)
            }
            // 50 per minute and address (a minute may roll over during the loop: at most twice that).
            let refused = statuses[401, default: 0]
            #expect(refused >= 50 && refused <= 100 && refused + statuses[429, default: 0] == 200)
            let ledger = f.gateway.stores.ledger
            // Flushed every 2 s as one row per minute and address, not one per request.
            var counted = 0
            for _ in 0..<50 where counted < 200 {
                try await Task.sleep(for: .milliseconds(200))
                counted = try await ledger.unauthenticatedCount(since: since)
            }
            #expect(counted == 200)
            let rows = (
                Int(try await f.gateway.executeSQL("SELECT COUNT(*) FROM usage_ledger") ?? "") ?? -1,
                Int(try await f.gateway.executeSQL("SELECT COUNT(*) FROM unauthenticated_requests") ?? "") ?? -1
            )
            #expect(rows.0 == 0 && rows.1 <= 2)
            // The presented secret is never echoed.
            let wrong = try await f.generate(["model": "gpt-image-1", "prompt": "x"], key: "sk-af-SECRETSECRET")
            #expect(!String(decoding: wrong.body, as: UTF8.self).contains("SECRET"))
        }
    }

    @Test func lookupLogPromptsAreCutAt2KiB() async throws {
        try await withFixture { f in
            let prompt = String(repeating: "a long prompt ", count: 2000)  // 28,000 bytes
            #expect(try await f.generate(["model": "gpt-image-1", "prompt": .string(prompt)]).status == 200)
            // The row is written by the batched log writer within its delay (20 ms), off the response path.
            let log = f.gateway.stores.lookupLog
            var found: LookupLogEntry?
            let deadline = ContinuousClock.now + .seconds(10)
            while found == nil, ContinuousClock.now < deadline {
                found = try await log.entries(namespace: nil, since: nil, limit: 5).first
                if found == nil { try await Task.sleep(for: .milliseconds(10)) }
            }
            let entry = try #require(found)
            #expect((entry.prompt?.utf8.count ?? 0) <= 2048 && entry.promptHash == Data(prompt.utf8).sha256Hex)
        }
    }

    @Test func ttlHeadersCannotOutliveTheNamespaceTTL() async throws {
        try await withFixture(configure: { $0.cache.ttlSeconds = 3600 }) { f in
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": "forever"], headers: [("x-afterimage-cache-ttl", "999999999")])
            #expect(reply.status == 200)
            let id = try #require(reply.json["extra_fields"]?["cache_debug"]?["cache_id"]?.integerValue)
            let entry = try #require(try await f.gateway.stores.cache.get(id: Int64(id), now: Date()))
            #expect(entry.expiresAt.timeIntervalSinceNow <= 3601)
        }
    }

    @Test func aKeyRowThatDoesNotDecodeIsRefused() async throws {
        try await withFixture { f in
            let (key, secret) = try await f.gateway.createKey(name: "broken", models: ["gpt-image-1"], limits: SpendLimits(requestsPerMinute: 5))
            try await f.gateway.executeSQL("UPDATE virtual_keys SET limits = '{not json', allowed_models = '[' WHERE id = '\(key.id)'")
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": "x"], key: secret)
            #expect(reply.status == 401 && reply.json["error"]?["message"]?.stringValue?.contains("unreadable") == true)
            #expect(f.stub.servedCount == 0)
        }
    }

    @Test func metricsNeedTheAdminKeyByDefault() async throws {
        try await withFixture { f in
            let open = try await f.get("/metrics")
            #expect(open.status == 401)
            #expect(try await f.get("/metrics", headers: [("Authorization", "Bearer wrong")]).status == 401)
            #expect(try await f.metrics().status == 200)
        }
    }

    @Test func aSecondServerOnTheSameDataDirectoryIsRefused() async throws {
        try await withFixture { f in
            await #expect(throws: ConfigurationError.self) {
                _ = try await TestGateway(upstream: f.stub, dataDirectory: f.gateway.dataDirectory)
            }
            let health = try await f.get("/healthz")
            #expect(health.status == 200)
        }
    }

}
