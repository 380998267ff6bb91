import AfterimageCore
import AfterimageStorage
import AfterimageTesting
import Foundation
import Testing

/// The usage ledger, costs, savings, budgets and rate limits on a live server.
@Suite struct MeteringTests {
    func row(_ f: Fixture, _ reply: TestHTTP.Reply) async throws -> UsageRecord {
        let id = try #require(reply.headers.first(name: "x-request-id"))
        return try #require(try await f.gateway.ledgerRow(id))
    }

    @Test func missHitAndErrorEachHaveTheirRow() async throws {
        try await withFixture { f in
            // Stub usage: 5 text tokens ("a red fox in snow" → 5 words) and 1056 image output tokens.
            // gpt-image-1: 5 × $5/1M + 1056 × $40/1M = 25 + 42240 µ$ = $0.042265.
            let miss = try await f.generate(["model": "gpt-image-1", "prompt": "a red fox in snow", "size": "1024x1024", "quality": "medium"])
            let m = try await row(f, miss)
            #expect(m.status == 200 && m.cache == .miss && m.usageSource == "upstream")
            #expect(m.keyID == f.key.id && m.keyName == f.key.name && m.namespace == f.key.namespace)
            #expect(m.modelRequested == "gpt-image-1" && m.modelUsed == "gpt-image-1" && m.provider == "openai")
            #expect(m.textInputTokens == 5 && m.imageOutputTokens == 1056 && m.images == 1)
            #expect(m.size == "1024x1024" && m.quality == "medium")
            #expect(m.cost?.usdString == "0.042265" && m.saved == .zero)
            #expect(m.priceVersion?.count == 12 && m.upstreamLatencyMs != nil && m.cacheEntryID != nil)

            let hit = try await f.generate(["model": "gpt-image-1", "prompt": "A red fox in snow", "size": "1024x1024", "quality": "medium"])
            let h = try await row(f, hit)
            #expect(h.cache == .direct && h.cost == .zero && h.saved.usdString == "0.042265")
            #expect(h.imageOutputTokens == 0 && h.images == 1 && h.cacheEntryID == m.cacheEntryID)

            let bad = try await f.generate(["model": "gpt-image-1", "prompt": "x", "size": "999x999"])
            let b = try await row(f, bad)
            #expect(b.status == 400 && b.errorCode == "invalid_payload" && b.cost == nil && b.images == 0)

            // No key, no row of its own: counted per minute and address instead.
            let unauthorized = try await f.generate(["model": "gpt-image-1", "prompt": "x"], key: "sk-af-nope")
            #expect(unauthorized.status == 401)
            let id = try #require(unauthorized.headers.first(name: "x-request-id"))
            #expect(try await f.gateway.ledgerRow(id) == nil)

            f.stub.inject([StubUpstream.Fault(status: 500)], model: "gpt-image-1")
            let failed = try await f.generate(["model": "gpt-image-1", "prompt": "doomed"], headers: [("Cache-Control", "no-store")])
            #expect(try await row(f, failed).status == failed.status)
        }
    }

    /// A miss commits its ledger row in its cache entry's transaction: when the row cannot be
    /// written, the entry is not kept either (no cached answer whose paid call has no row), the
    /// answer is withheld, and once the ledger takes rows again the same prompt misses anew.
    @Test func aMissCommitsItsRowWithItsCacheEntry() async throws {
        try await withFixture { f in
            let postgres = f.gateway.configuration.storage.backend == .postgres
            if postgres {
                try await f.gateway.executeSQL(
                    "CREATE FUNCTION refuse_miss_rows() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'ledger refused'; END $$ LANGUAGE plpgsql"
                )
                try await f.gateway.executeSQL(
                    "CREATE TRIGGER refuse_miss_rows BEFORE INSERT ON usage_ledger FOR EACH ROW WHEN (NEW.cache = 'miss') EXECUTE FUNCTION refuse_miss_rows()"
                )
            } else {
                try await f.gateway.executeSQL(
                    "CREATE TRIGGER refuse_miss_rows BEFORE INSERT ON usage_ledger WHEN NEW.cache = 'miss' BEGIN SELECT RAISE(ABORT, 'ledger refused'); END"
                )
            }
            let body: [String: JSONValue] = ["model": "gpt-image-1", "prompt": "a lantern on a jetty at dusk"]
            let refused = try await f.generate(body)
            #expect(refused.status == 500)
            #expect(try await f.gateway.executeSQL("SELECT COUNT(*) FROM cache_entries") == "0")

            try await f.gateway.executeSQL("DROP TRIGGER refuse_miss_rows" + (postgres ? " ON usage_ledger" : ""))
            let miss = try await f.generate(body)
            let m = try await row(f, miss)
            #expect(miss.status == 200 && m.cache == .miss && m.status == 200)
            let entryID = try #require(m.cacheEntryID)
            #expect(try await f.gateway.executeSQL("SELECT id FROM cache_entries") == String(entryID))
            // 7 words → 7 text tokens: 7 × 5 + 1056 × 40 = 42,275 µ$.
            #expect(m.attempts == ["ok"] && m.textInputTokens == 7 && m.cost?.usdString == "0.042275" && m.latencyMs >= 0)
            let hit = try await f.generate(body)
            #expect(try await row(f, hit).cacheEntryID == entryID)
        }
    }

    @Test func usageIsEstimatedWhenTheUpstreamSendsNone() async throws {
        try await withFixture { f in
            f.stub.sendUsage(false)
            // 1024x1536 high: 6240 output tokens; "a tall lighthouse" = 17 bytes → 5 tokens.
            // 5 × 5 + 6240 × 40 = 25 + 249600 µ$.
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": "a tall lighthouse", "size": "1024x1536", "quality": "high"])
            let r = try await row(f, reply)
            #expect(r.usageSource == "estimated")
            #expect(r.textInputTokens == 5 && r.imageOutputTokens == 6240)
            #expect(r.cost?.usdString == "0.249625")
            // Per-image models: dall-e-3 hd 1792x1024, two images... dall-e-3 allows n=1: one image, $0.12.
            let dalle = try await f.generate(["model": "dall-e-3", "prompt": "a harbour", "size": "1792x1024", "quality": "hd"])
            #expect(try await row(f, dalle).cost?.usdString == "0.120000")
            let dalle2 = try await f.generate(["model": "dall-e-2", "prompt": "a harbour", "size": "256x256", "n": 3])
            #expect(try await row(f, dalle2).cost?.usdString == "0.048000")
        }
    }

    @Test func aModelWithoutAPriceHasANullCost() async throws {
        try await withFixture(configure: { config in
            var model = config.models.first { $0.id == "gpt-image-1" }!
            model.id = "gpt-image-lab"
            config.models.append(model)
        }) { f in
            let reply = try await f.generate(["model": "gpt-image-lab", "prompt": "an experiment"])
            #expect(reply.status == 200)
            let r = try await row(f, reply)
            #expect(r.cost == nil && r.imageOutputTokens == 1056)
            let metrics = String(decoding: try await f.metrics().body, as: UTF8.self)
            #expect(metrics.contains("afterimage_unpriced_requests_total{model=\"gpt-image-lab\"} 1"))
        }
    }

    @Test func budgetHoldsUnderFiftyConcurrentRequests() async throws {
        try await withFixture { f in
            // Each request: 3 text tokens ("prompt number N") + 1056 output tokens = 15 + 42240 µ$ = $0.042255.
            let budget = Money(nanos: 42_255_000 * 10)
            let (_, secret) = try await f.gateway.createKey(name: "budgeted", limits: SpendLimits(budget: budget, budgetPeriod: .day))
            let replies = try await withThrowingTaskGroup(of: TestHTTP.Reply.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        try await f.generate(["model": "gpt-image-1", "prompt": .string("prompt number \(index)"), "size": "1024x1024", "quality": "medium"], key: secret)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let succeeded = replies.filter { $0.status == 200 }
            let refused = replies.filter { $0.status == 429 }
            #expect(succeeded.count + refused.count == 50)
            #expect(succeeded.count >= 1 && succeeded.count <= 10)
            #expect(refused.allSatisfy { $0.errorCode == "rate_limited" && $0.headers.first(name: "retry-after") != nil })
            #expect(refused.first?.json["error"]?["message"]?.stringValue?.contains("Budget exhausted for key 'budgeted'") == true)
            var spent = Money.zero
            for reply in succeeded { spent += try await row(f, reply).cost ?? .zero }
            #expect(spent <= budget, "spent \(spent.usdString) of \(budget.usdString)")
            #expect(f.stub.servedCount == succeeded.count)
            // A cache hit spends nothing, so it is still served (a prompt that went upstream).
            let served = try #require(f.stub.received.first?.fields["prompt"])
            let hit = try await f.generate(["model": "gpt-image-1", "prompt": served, "size": "1024x1024", "quality": "medium"], key: secret)
            #expect(hit.status == 200)
        }
    }

    @Test func requestsPerMinuteLimitAnswers429WithRetryAfter() async throws {
        try await withFixture { f in
            let (_, secret) = try await f.gateway.createKey(name: "slow lane", limits: SpendLimits(requestsPerMinute: 2))
            #expect(try await f.generate(["model": "gpt-image-1", "prompt": "one"], key: secret).status == 200)
            #expect(try await f.generate(["model": "gpt-image-1", "prompt": "one"], key: secret).status == 200, "a hit counts as a request")
            let limited = try await f.generate(["model": "gpt-image-1", "prompt": "two"], key: secret)
            #expect(limited.status == 429 && limited.errorCode == "rate_limited")
            #expect(limited.json["error"]?["message"]?.stringValue?.contains("2 requests per minute") == true)
            let retryAfter = Int(limited.headers.first(name: "retry-after") ?? "") ?? 0
            #expect(retryAfter >= 1 && retryAfter <= 60)
            #expect(try await row(f, limited).status == 429)
        }
    }

    @Test func imagesPerMinuteAndNamespaceLimits() async throws {
        try await withFixture { f in
            let (_, secret) = try await f.gateway.createKey(name: "images", limits: SpendLimits(imagesPerMinute: 3))
            #expect(try await f.generate(["model": "dall-e-2", "prompt": "a", "n": 2, "size": "256x256"], key: secret).status == 200)
            let limited = try await f.generate(["model": "dall-e-2", "prompt": "b", "n": 2, "size": "256x256"], key: secret)
            #expect(limited.status == 429 && limited.json["error"]?["message"]?.stringValue?.contains("3 images per minute") == true)

            let set = try await f.admin(.PUT, "/admin/namespaces/team-x", ["rpm": 1])
            #expect(set.status == 200 && set.json["rpm"] == 1)
            let (_, a) = try await f.gateway.createKey(name: "a", namespace: "team-x")
            let (_, b) = try await f.gateway.createKey(name: "b", namespace: "team-x")
            #expect(try await f.generate(["model": "gpt-image-1", "prompt": "shared"], key: a).status == 200)
            let second = try await f.generate(["model": "gpt-image-1", "prompt": "shared too"], key: b)
            #expect(second.status == 429 && second.json["error"]?["message"]?.stringValue?.contains("namespace 'team-x'") == true)
            #expect(try await f.admin(.PUT, "/admin/namespaces/team-x", ["rpm": -1]).errorParam == "rpm")
        }
    }

    @Test func keyLimitsThroughTheAdminAPI() async throws {
        try await withFixture { f in
            let created = try await f.admin(.POST, "/admin/keys", ["name": "ci", "budget_usd": "2.50", "budget_period": "week", "rpm": 10])
            #expect(created.status == 201)
            #expect(created.json["budget_usd"] == "2.500000" && created.json["budget_period"] == "week" && created.json["rpm"] == 10)
            #expect(created.json["images_per_minute"] == .null)
            let id = try #require(created.json["id"]?.stringValue)
            let patched = try await f.admin(.PATCH, "/admin/keys/\(id)", ["rpm": .null, "images_per_minute": 30, "budget_usd": 7])
            #expect(patched.json["rpm"] == .null && patched.json["images_per_minute"] == 30 && patched.json["budget_usd"] == "7.000000")
            #expect(try await f.admin(.PATCH, "/admin/keys/\(id)", ["budget_usd": "lots"]).errorParam == "budget_usd")
            #expect(try await f.admin(.PATCH, "/admin/keys/\(id)", ["budget_period": "year"]).errorParam == "budget_period")
            #expect(try await f.admin(.PATCH, "/admin/keys/\(id)", ["images_per_minute": 0]).errorParam == "images_per_minute")
        }
    }

    @Test func aCacheThatCannotStoreStillAnswersAndMeters() async throws {
        try await withFixture { f in
            // Break cache writes from outside (inserting an entry also counts the miss in this table).
            try await f.gateway.executeSQL("DROP TABLE cache_counters")
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": "a red fox in snow", "size": "1024x1024", "quality": "medium"])
            #expect(reply.status == 200 && imageBytes(reply) != nil)
            #expect(reply.json["extra_fields"]?["cache_debug"]?["cache_id"] == nil)
            let r = try await row(f, reply)
            #expect(r.status == 200 && r.cost?.usdString == "0.042265" && r.cacheEntryID == nil)
            let again = try await f.generate(["model": "gpt-image-1", "prompt": "a red fox in snow", "size": "1024x1024", "quality": "medium"])
            #expect(again.headers.first(name: "x-afterimage-cache") == "miss")
        }
    }

    @Test func aRunningServerPicksUpPriceChanges() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pricing-\(UUID().uuidString).yaml")
        try "models:\n  dall-e-2:\n    per_image:\n      standard: {256x256: 0.016}\n".write(to: file, atomically: true, encoding: .utf8)
        try await withFixture(configure: { $0.pricingFile = file.path }) { f in
            let before = try await row(f, try await f.generate(["model": "dall-e-2", "prompt": "one", "size": "256x256"]))
            #expect(before.cost?.usdString == "0.016000")
            try "models:\n  dall-e-2:\n    per_image:\n      standard: {256x256: 0.05}\n".write(to: file, atomically: true, encoding: .utf8)
            var after: UsageRecord?
            for attempt in 0..<50 {
                try await Task.sleep(for: .milliseconds(200))
                let r = try await row(f, try await f.generate(["model": "dall-e-2", "prompt": .string("poll \(attempt)"), "size": "256x256"]))
                if r.cost?.usdString == "0.050000" { after = r; break }
            }
            let reloaded = try #require(after, "the new price was never used")
            #expect(reloaded.priceVersion != before.priceVersion)
        }
    }
}
