import AfterimageCore
import AfterimageServer
import AfterimageTesting
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Two replicas on one PostgreSQL database and one stub upstream: the cache, key changes, budgets,
/// rate limits and single-flight are shared (real PostgreSQL, real servers on loopback).
@Suite struct ReplicaTests {
    /// Two gateways sharing a fresh database (the suite's PostgreSQL server when it has one, else
    /// a throwaway cluster of this test's own), and a key created through A.
    struct Pair {
        let stub: StubUpstream
        let a: TestGateway
        let b: TestGateway
        let secret: String
        let key: VirtualKey

        func generate(_ gateway: TestGateway, _ body: [String: JSONValue], key: String? = nil) async throws -> TestHTTP.Reply {
            try await TestHTTP.postJSON("\(gateway.baseURL)/v1/images/generations", .object(body), key: key ?? secret)
        }

        func admin(_ gateway: TestGateway, _ method: HTTPMethod, _ path: String) async throws -> TestHTTP.Reply {
            try await TestHTTP.request(method, gateway.baseURL + path, headers: [("Authorization", "Bearer \(TestGateway.adminKey)")])
        }
    }

    func withReplicas(limits: SpendLimits = SpendLimits(), _ body: (Pair) async throws -> Void) async throws {
        let (url, cluster) = try await PostgresCluster.testDatabase()
        let stub = StubUpstream()
        try await stub.start()
        var started = [TestGateway]()
        do {
            let a = try await TestGateway(upstream: stub, databaseURL: url)
            started.append(a)
            let b = try await TestGateway(upstream: stub, databaseURL: url)
            started.append(b)
            let (key, secret) = try await a.createKey(name: "shared", limits: limits)
            try await body(Pair(stub: stub, a: a, b: b, secret: secret, key: key))
        } catch {
            for gateway in started { await gateway.stop() }
            await stub.stop()
            await cluster?.stop()
            throw error
        }
        for gateway in started { await gateway.stop() }
        await stub.stop()
        await cluster?.stop()
    }

    static func cache(_ reply: TestHTTP.Reply) -> String? { reply.headers.first(name: "x-afterimage-cache") }

    @Test func anImageCachedThroughAIsADirectAndASemanticHitThroughB() async throws {
        try await withReplicas { p in
            let miss = try await p.generate(p.a, ["model": "gpt-image-1", "prompt": "a grey cat on a colour-coded bookshelf"])
            #expect(miss.status == 200 && Self.cache(miss) == "miss")
            let direct = try await p.generate(p.b, ["model": "gpt-image-1", "prompt": "a grey cat on a colour-coded bookshelf"])
            #expect(Self.cache(direct) == "hit-direct")
            #expect(imageBytes(direct) == imageBytes(miss) && imageBytes(direct) != nil, "B serves the bytes A stored")
            // B's index follows A's insert within a second.
            try await Task.sleep(for: .seconds(1))
            let semantic = try await p.generate(p.b, ["model": "gpt-image-1", "prompt": "Please generate an image of a gray cat on a color-coded bookshelf"])
            #expect(Self.cache(semantic) == "hit-semantic")
            #expect(p.stub.servedCount == 1)
            // A signed URL handed out by A is served by B (one shared signing secret).
            let asURL = try await p.generate(p.a, ["model": "gpt-image-1", "prompt": "a grey cat on a colour-coded bookshelf", "response_format": "url"])
            let url = try #require(asURL.json["data"]?.arrayValue?.first?["url"]?.stringValue)
            let onB = url.replacingOccurrences(of: ":\(p.a.port)/", with: ":\(p.b.port)/")
            #expect(onB != url)
            let file = try await TestHTTP.request(.GET, onB)
            #expect(file.status == 200 && file.body == imageBytes(miss))
        }
    }

    @Test func aPurgeThroughAIsHonouredByB() async throws {
        try await withReplicas { p in
            let first = try await p.generate(p.a, ["model": "gpt-image-1", "prompt": "a stone bridge over a river"])
            let purgedID = try #require(first.json["extra_fields"]?["cache_debug"]?["cache_id"])
            try await Task.sleep(for: .seconds(1))
            #expect(Self.cache(try await p.generate(p.b, ["model": "gpt-image-1", "prompt": "a stone bridge over a river"])) == "hit-direct")
            let purged = try await p.admin(p.a, .DELETE, "/admin/cache/entries")
            #expect(purged.status == 200 && purged.json["deleted"] == 1)
            // Never served after: not through B's index (its only candidate is gone)…
            let paraphrase = try await p.generate(p.b, ["model": "gpt-image-1", "prompt": "Please draw a stone bridge over a river"])
            #expect(Self.cache(paraphrase) == "miss")
            // …and not directly (it may be served from the paraphrase's new entry, never the purged one).
            let again = try await p.generate(p.b, ["model": "gpt-image-1", "prompt": "a stone bridge over a river"])
            #expect(again.status == 200 && again.json["extra_fields"]?["cache_debug"]?["cache_id"] != purgedID)
        }
    }

    @Test func aKeyRevokedOnAIsRefusedByB() async throws {
        try await withReplicas { p in
            #expect(try await p.generate(p.b, ["model": "gpt-image-1", "prompt": "before"]).status == 200)
            #expect(try await p.admin(p.a, .DELETE, "/admin/keys/\(p.key.id)").status == 200)
            let refused = try await p.generate(p.b, ["model": "gpt-image-1", "prompt": "after"])
            #expect(refused.status == 401 && refused.json["error"]?["message"]?.stringValue?.contains("revoked") == true)
        }
    }

    @Test func aBudgetHoldsAcrossReplicas() async throws {
        // dall-e-2 256x256 costs $0.016 an image: $0.16 is exactly 10 images.
        try await withReplicas(limits: SpendLimits(budget: Money(usd: "0.16"), budgetPeriod: .day)) { p in
            let replies = try await withThrowingTaskGroup(of: TestHTTP.Reply.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        try await p.generate(index % 2 == 0 ? p.a : p.b, ["model": "dall-e-2", "size": "256x256", "prompt": .string("budget item \(index)")])
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(replies.filter { $0.status == 200 }.count == 10)
            #expect(replies.filter { $0.status == 429 }.count == 40)
            let spent = try await p.a.stores.ledger.spent(keyID: p.key.id, namespace: nil, since: Date().addingTimeInterval(-3600))
            #expect(spent == Money(usd: "0.16"))
        }
    }

    @Test func aRateLimitHoldsAcrossReplicas() async throws {
        try await withReplicas(limits: SpendLimits(requestsPerMinute: 30)) { p in
            let replies = try await withThrowingTaskGroup(of: TestHTTP.Reply.self) { group in
                for index in 0..<60 {
                    group.addTask { try await p.generate(index % 2 == 0 ? p.a : p.b, ["model": "gpt-image-1", "prompt": .string("rate item \(index)")]) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(replies.filter { $0.status == 200 }.count == 30)
            let refused = replies.filter { $0.status == 429 }
            #expect(refused.count == 30)
            #expect(refused.allSatisfy { Int($0.headers.first(name: "retry-after") ?? "") ?? 0 >= 1 })
        }
    }

    @Test func identicalMissesOnBothReplicasMakeOneUpstreamCall() async throws {
        try await withReplicas { p in
            p.stub.inject([.delay(.seconds(1))])
            let replies = try await withThrowingTaskGroup(of: TestHTTP.Reply.self) { group in
                for index in 0..<20 {
                    group.addTask { try await p.generate(index % 2 == 0 ? p.a : p.b, ["model": "gpt-image-1", "prompt": "a crowd on two replicas"]) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(replies.allSatisfy { $0.status == 200 })
            #expect(p.stub.servedCount == 1)
            #expect(replies.filter { Self.cache($0) == "miss" }.count == 1)
        }
    }
}
