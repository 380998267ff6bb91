import AfterimageCore
import AfterimageTesting
import Foundation
import Testing

@Suite struct CacheTests {
    func cacheHeader(_ reply: TestHTTP.Reply) -> String? { reply.headers.first(name: "x-afterimage-cache") }
    func debug(_ reply: TestHTTP.Reply) -> JSONValue { reply.json["extra_fields"]?["cache_debug"] ?? .null }

    @Test func directHitServesStoredBytesWithZeroUsage() async throws {
        try await withFixture { f in
            let miss = try await f.generate(["model": "gpt-image-1", "prompt": "a red fox in the snow", "size": "1024x1536"])
            #expect(cacheHeader(miss) == "miss")
            #expect(debug(miss)["cache_hit"] == false)
            let hit = try await f.generate(["model": "gpt-image-1", "prompt": "  A red fox   in the snow!  ", "size": "1024x1536"])
            #expect(hit.status == 200)
            #expect(cacheHeader(hit) == "hit-direct")
            #expect(f.stub.servedCount == 1)
            #expect(imageBytes(hit) == imageBytes(miss))
            let d = debug(hit)
            #expect(d["cache_hit"] == true && d["hit_type"] == "direct" && d["similarity"] == .null)
            #expect(d["cache_id"]?.stringValue != nil)
            #expect(d["requested_model"] == "gpt-image-1" && d["requested_provider"] == "openai")
            #expect(d["provider_used"] == "local" && d["model_used"]?.stringValue?.hasPrefix("hashing") == true)
            #expect(hit.json["usage"]?["output_tokens"] == 0)
            #expect(hit.json["usage"]?["input_tokens_details"]?["text_tokens"] == 0)
            #expect(hit.json["size"] == "1024x1536")
            #expect(hit.json["id"] != miss.json["id"])
        }
    }

    @Test func semanticHitThroughTheGuard() async throws {
        try await withFixture { f in
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a grey cat on a colour-coded bookshelf"])
            let hit = try await f.generate(["model": "gpt-image-1", "prompt": "Please generate an image of a gray cat on a color-coded bookshelf"])
            #expect(cacheHeader(hit) == "hit-semantic")
            #expect(debug(hit)["hit_type"] == "semantic")
            #expect((debug(hit)["similarity"]?.doubleValue ?? 0) >= 0.85)
            #expect(hit.headers.first(name: "x-afterimage-cache-similarity") != nil)
            #expect(f.stub.servedCount == 1)
        }
    }

    @Test func semanticHitThroughTheApproximateGraph() async throws {
        // From the second entry on, the partition is searched through the HNSW graph.
        try await withFixture(configure: { $0.cache.annMinEntries = 2 }) { f in
            for prompt in ["a copper kettle on a stove", "a lighthouse at dusk", "a grey cat on a colour-coded bookshelf"] {
                _ = try await f.generate(["model": "gpt-image-1", "prompt": .string(prompt)])
            }
            let hit = try await f.generate(["model": "gpt-image-1", "prompt": "Please generate an image of a gray cat on a color-coded bookshelf"])
            #expect(cacheHeader(hit) == "hit-semantic")
            #expect(cacheHeader(try await f.generate(["model": "gpt-image-1", "prompt": "a purple cat on a colour-coded bookshelf"])) == "miss")
            #expect(f.stub.servedCount == 4)
        }
    }

    @Test(arguments: [
        ("a red sports car on a mountain road", "a blue sports car on a mountain road"),
        ("three ducklings following their mother", "five ducklings following their mother"),
        ("a heron catching a frog", "a frog catching a heron"),
        ("a street with people", "a street with no people"),
    ])
    func guardBlocksNearMisses(cached: String, incoming: String) async throws {
        try await withFixture { f in
            _ = try await f.generate(["model": "gpt-image-1", "prompt": .string(cached)])
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": .string(incoming)])
            #expect(cacheHeader(reply) == "miss")
            #expect(f.stub.servedCount == 2)
        }
    }

    @Test func namespacesAreIsolated() async throws {
        try await withFixture { f in
            let (_, other) = try await f.gateway.createKey(name: "other team")
            let (_, sameTeam) = try await f.gateway.createKey(name: "teammate", namespace: f.key.namespace)
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a lighthouse"])
            let foreign = try await f.generate(["model": "gpt-image-1", "prompt": "a lighthouse"], key: other)
            #expect(cacheHeader(foreign) == "miss")
            let shared = try await f.generate(["model": "gpt-image-1", "prompt": "a lighthouse"], key: sameTeam)
            #expect(cacheHeader(shared) == "hit-direct")
            #expect(f.stub.servedCount == 2)
        }
    }

    @Test func partitionsSplitOnParametersNotOnResponseFormat() async throws {
        try await withFixture { f in
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a kite", "size": "1024x1024", "n": 1])
            #expect(cacheHeader(try await f.generate(["model": "gpt-image-1", "prompt": "a kite", "size": "1536x1024"])) == "miss")
            #expect(cacheHeader(try await f.generate(["model": "gpt-image-1", "prompt": "a kite", "quality": "high", "size": "1024x1024"])) == "miss")
            #expect(cacheHeader(try await f.generate(["model": "gpt-image-1-mini", "prompt": "a kite", "size": "1024x1024"])) == "miss")
            let sameRequest = try await f.generate(["model": "gpt-image-1", "prompt": "a kite", "size": "1024x1024", "n": "1", "response_format": "url", "user": "u1"])
            #expect(cacheHeader(sameRequest) == "hit-direct")
            #expect(sameRequest.json["data"]?.arrayValue?.first?["url"]?.stringValue != nil)
        }
    }

    @Test func editsPartitionOnImageAndMaskBytes() async throws {
        try await withFixture { f in
            _ = try await f.get("/healthz")
            func form(image: String, mask: String?) -> TestHTTP.Form {
                var form = TestHTTP.Form()
                form.field("model", "gpt-image-1")
                form.field("prompt", "add a hat")
                form.file("image", filename: "in.png", data: TestImages.png(width: 64, height: 64, seed: image))
                if let mask { form.file("mask", filename: "m.png", data: TestImages.png(width: 64, height: 64, seed: mask)) }
                return form
            }
            #expect(cacheHeader(try await f.edit(form(image: "one", mask: "m1"))) == "miss")
            #expect(cacheHeader(try await f.edit(form(image: "one", mask: "m1"))) == "hit-direct")
            #expect(cacheHeader(try await f.edit(form(image: "two", mask: "m1"))) == "miss")
            #expect(cacheHeader(try await f.edit(form(image: "one", mask: "m2"))) == "miss")
            #expect(cacheHeader(try await f.edit(form(image: "one", mask: nil))) == "miss")
            #expect(f.stub.servedCount == 4)
        }
    }

    /// `no-store` with a `b64_json` answer writes nothing (no file, no image row): nothing would
    /// read it back. A `url` answer must be fetchable, so its image is written even with `no-store`.
    /// Checked through the blob store, so it holds on either backend (files or PostgreSQL).
    @Test func noStoreWritesNoImageUnlessTheAnswerIsAURL() async throws {
        try await withFixture { f in
            let inline = try await f.generate(
                ["model": "gpt-image-1", "prompt": "a lantern on a jetty", "response_format": "b64_json"], headers: [("Cache-Control", "no-store")]
            )
            #expect(inline.status == 200)
            let bytes = try #require(imageBytes(inline))
            #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]))
            #expect(try await f.gateway.stores.blobs.get(id: bytes.sha256Hex) == nil, "a no-store b64_json answer stored its image")
            let linked = try await f.generate(
                ["model": "gpt-image-1", "prompt": "a lantern on a pier", "response_format": "url"], headers: [("Cache-Control", "no-store")]
            )
            let url = try #require(linked.json["data"]?.arrayValue?.first?["url"]?.stringValue)
            let fetched = try await f.get(url)
            #expect(fetched.status == 200 && fetched.body.starts(with: [0x89, 0x50, 0x4E, 0x47]))
            #expect(try await f.gateway.stores.blobs.get(id: fetched.body.sha256Hex) != nil)
            // Both are metered as usual: two requests, two images.
            let total = try await f.admin(.GET, "/admin/usage?from=2000-01-01&to=2100-01-01").json["total"] ?? .null
            #expect(total["requests"] == 2 && total["images"] == 2)
        }
    }

    @Test func noStoreNoCacheAndThresholdHeaders() async throws {
        try await withFixture { f in
            let unstored = try await f.generate(["model": "gpt-image-1", "prompt": "a quiet pond"], headers: [("Cache-Control", "no-store")])
            #expect(cacheHeader(unstored) == "miss")
            #expect(cacheHeader(try await f.generate(["model": "gpt-image-1", "prompt": "a quiet pond"])) == "miss")
            #expect(cacheHeader(try await f.generate(["model": "gpt-image-1", "prompt": "a quiet pond"])) == "hit-direct")
            let bypass = try await f.generate(["model": "gpt-image-1", "prompt": "a quiet pond"], headers: [("Cache-Control", "no-cache")])
            #expect(cacheHeader(bypass) == "bypass")
            #expect(f.stub.servedCount == 3)

            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a grey owl at dusk"])
            let lowered = try await f.generate(["model": "gpt-image-1", "prompt": "a gray owl at dusk"], headers: [("x-afterimage-cache-threshold", "0.1")])
            #expect(debug(lowered)["threshold"]?.doubleValue.map { abs($0 - 0.60) < 1e-6 } == true, "a header can never lower the threshold")
            let raised = try await f.generate(["model": "gpt-image-1", "prompt": "a gray owl at dusk!"], headers: [("x-bf-cache-threshold", "0.99")])
            #expect(debug(raised)["threshold"]?.doubleValue == 0.99)
            let directOnly = try await f.generate(["model": "gpt-image-1", "prompt": "grey owl at dusk, please"], headers: [("x-afterimage-cache-type", "direct")])
            #expect(cacheHeader(directOnly) == "miss")

            for (name, value) in [("x-afterimage-cache-threshold", "high"), ("x-afterimage-cache-ttl", "-5"), ("x-bf-cache-type", "fuzzy")] {
                let invalid = try await f.generate(["model": "gpt-image-1", "prompt": "x"], headers: [(name, value)])
                #expect(invalid.status == 400)
                #expect(invalid.errorParam == name)
            }
        }
    }

    @Test func expiredEntriesAreNeverServed() async throws {
        try await withFixture { f in
            // No timing window is asserted for the hit (machines are slow under load): a 1 s entry
            // must be gone after the sleep, and a 1 h entry must still be there.
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a melting clock"], headers: [("x-afterimage-cache-ttl", "1")])
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a frozen clock"], headers: [("x-afterimage-cache-ttl", "1h")])
            try await Task.sleep(for: .milliseconds(1500))
            let expired = try await f.generate(["model": "gpt-image-1", "prompt": "a melting clock"])
            #expect(cacheHeader(expired) == "miss")
            let kept = try await f.generate(["model": "gpt-image-1", "prompt": "a frozen clock"])
            #expect(cacheHeader(kept) == "hit-direct")
            #expect(f.stub.servedCount == 3)
        }
    }

    @Test func concurrentIdenticalMissesMakeOneUpstreamCall() async throws {
        try await withFixture { f in
            f.stub.inject([.delay(.seconds(1))])
            let replies = try await withThrowingTaskGroup(of: TestHTTP.Reply.self) { group in
                for _ in 0..<20 { group.addTask { try await f.generate(["model": "gpt-image-1", "prompt": "a crowd of identical requests"]) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(replies.allSatisfy { $0.status == 200 })
            #expect(f.stub.servedCount == 1)
            #expect(replies.filter { cacheHeader($0) == "miss" }.count == 1)
            #expect(replies.filter { cacheHeader($0) == "hit-direct" }.count == 19)
            // Every request has its row: the caller's went with the cache entry, each waiter's
            // through group commit, all naming the one entry.
            var rows = [UsageRecord]()
            for reply in replies {
                let id = try #require(reply.headers.first(name: "x-request-id"))
                rows.append(try #require(try await f.gateway.ledgerRow(id)))
            }
            let misses = rows.filter { $0.cache == .miss }
            #expect(misses.count == 1 && rows.filter { $0.cache == .direct }.count == 19)
            let miss = try #require(misses.first)
            #expect(miss.cacheEntryID != nil && (miss.cost ?? .zero) > .zero && miss.attempts == ["ok"])
            #expect(rows.allSatisfy { $0.status == 200 && $0.cacheEntryID == miss.cacheEntryID })
            #expect(rows.filter { $0.cache == .direct }.allSatisfy { $0.cost == .zero && $0.saved == miss.cost && $0.attempts.isEmpty })
        }
    }

    @Test func sharedFailureIsNotRetriedPerWaiter() async throws {
        try await withFixture(configure: { $0.upstream.maxAttempts = 1 }) { f in
            f.stub.inject([StubUpstream.Fault(status: 500, delay: .seconds(2))])
            let replies = try await withThrowingTaskGroup(of: TestHTTP.Reply.self) { group in
                for _ in 0..<5 { group.addTask { try await f.generate(["model": "gpt-image-1", "prompt": "doomed"]) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(replies.allSatisfy { $0.status == 503 })
            #expect(f.stub.servedCount == 1)
        }
    }

    @Test func hitServedAsURLAfterTheUpstreamURLExpired() async throws {
        try await withFixture { f in
            _ = try await f.generate(["model": "dall-e-2", "prompt": "a harbour", "size": "256x256", "response_format": "url"])
            f.stub.expireAllURLs()
            let hit = try await f.generate(["model": "dall-e-2", "prompt": "a harbour", "size": "256x256", "response_format": "url"])
            #expect(cacheHeader(hit) == "hit-direct")
            let url = try #require(hit.json["data"]?.arrayValue?.first?["url"]?.stringValue)
            let file = try await f.get(url)
            #expect(file.status == 200 && ImageInfo.read(file.body)?.dimensions == ImageDimensions(width: 256, height: 256))
        }
    }

    @Test func entriesSurviveARestart() async throws {
        let stub = StubUpstream()
        try await stub.start()
        let first = try await TestGateway(upstream: stub)
        let (_, secret) = try await first.createKey(name: "persistent")
        let miss = try await TestHTTP.postJSON("\(first.baseURL)/v1/images/generations", ["model": "gpt-image-1", "prompt": "a grey stone bridge"], key: secret)
        #expect(miss.headers.first(name: "x-afterimage-cache") == "miss")
        await first.stop()
        let second = try await TestGateway(upstream: stub, dataDirectory: first.dataDirectory)
        let direct = try await TestHTTP.postJSON("\(second.baseURL)/v1/images/generations", ["model": "gpt-image-1", "prompt": "a grey stone bridge"], key: secret)
        #expect(direct.headers.first(name: "x-afterimage-cache") == "hit-direct")
        let semantic = try await TestHTTP.postJSON("\(second.baseURL)/v1/images/generations", ["model": "gpt-image-1", "prompt": "a gray stone bridge"], key: secret)
        #expect(semantic.headers.first(name: "x-afterimage-cache") == "hit-semantic", "the index is rebuilt from SQLite")
        #expect(stub.servedCount == 1)
        await second.stop()
        await stub.stop()
    }
}
