import AfterimageCore
import AfterimageServer
import AfterimageTesting
import Foundation
import Testing

/// A hostile upstream can neither crash the gateway, reach inside its network, nor make a paid
/// call free. After each answer: `/healthz` answers, the client got a clean OpenAI error or a
/// correct success, and the request has its ledger row.
@Suite struct HostileUpstreamTests {
    func row(_ f: Fixture, _ reply: TestHTTP.Reply) async throws -> UsageRecord {
        let id = try #require(reply.headers.first(name: "x-request-id"))
        return try #require(try await f.gateway.ledgerRow(id))
    }

    func expectAlive(_ f: Fixture) async throws {
        #expect(try await f.get("/healthz").status == 200)
    }

    func expectCleanError(_ reply: TestHTTP.Reply, _ status: Int = 503) {
        #expect(reply.status == status)
        #expect(reply.json["error"]?["message"]?.stringValue != nil && reply.json["error"]?["code"]?.stringValue != nil)
    }

    static func usage(_ value: JSONValue) -> StubUpstream.Fault {
        .rewrite { body in
            var body = body
            body["usage"] = value
            return body
        }
    }

    @Test(arguments: [
        JSONValue.object(["output_tokens": .integer(10_000_000_000_000_000)]),
        .object(["output_tokens": .integer(-5), "input_tokens": .integer(3)]),
        .object(["output_tokens": .number(1.5)]),
        .object(["input_tokens_details": .object(["text_tokens": .number(1e300)]), "output_tokens": .integer(1056)]),
        .object(["output_tokens": .string("many")]),
    ])
    func nonsenseUsageIsChargedTheWorstCase(_ usage: JSONValue) async throws {
        try await withFixture { f in
            f.stub.inject([Self.usage(usage)])
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": "a calm sea", "size": "1024x1024", "quality": "high"])
            #expect(reply.status == 200)
            let r = try await row(f, reply)
            #expect(r.usageSource == "usage_invalid" && r.costEstimated)
            // Worst case for 1024x1024 high: 4160 output tokens × $40/1M + 10 prompt bytes × $5/1M
            // + 4096 text output tokens at the dearest price ($40/1M): 166400 + 50 + 163840 µ$.
            #expect(r.cost?.usdString == "0.330290")
            try await expectAlive(f)
        }
    }

    @Test(arguments: ["1e300", "-5", "soon", String(repeating: "9", count: 400)])
    func hostileRetryAfterIsClamped(_ value: String) async throws {
        try await withFixture(configure: { $0.upstream.maxTotalMs = 2_000 }) { f in
            f.stub.inject([.status(503, retryAfter: value), .status(503, retryAfter: value), .status(503, retryAfter: value)])
            let started = ContinuousClock.now
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": "patience"])
            // The waits between attempts, measured where they happen (the stub's arrival times, so a
            // loaded test machine's queueing before the first attempt or after the last does not
            // count): within the 2 s retry budget plus two round trips.
            let arrivals = f.stub.received.map(\.receivedAt)
            #expect(arrivals.count >= 1 && arrivals.count <= 3)
            if let first = arrivals.first, let last = arrivals.last { #expect(last - first < .seconds(5)) }
            #expect(ContinuousClock.now - started < .seconds(60), "no unclamped wait (1e300 s, or hours from a naive parse)")
            #expect(try await row(f, reply).attempts.count == arrivals.count)
            expectCleanError(reply)
            #expect(try await row(f, reply).status == 503)
            try await expectAlive(f)
        }
    }

    @Test func absurdUpstreamSizeIsHarmless() async throws {
        try await withFixture { f in
            f.stub.inject([.rewrite { body in
                var body = body
                body["size"] = .string("4000000000x4000000000")
                body.removeValue(forKey: "usage")
                return body
            }])
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": "a huge canvas"])
            #expect(reply.status == 200)
            let r = try await row(f, reply)
            #expect(r.size == "4000000000x4000000000" && r.cost != nil)
            try await expectAlive(f)
        }
    }

    /// Answers the next request with one image at `url`.
    func answerWithURL(_ f: Fixture, _ url: String) {
        f.stub.inject([.rewrite { body in
            var body = body
            body["data"] = .array([.object(["url": .string(url)])])
            return body
        }])
    }

    @Test func urlsToOtherHostsAndNonPublicAddressesAreNeverFetched() async throws {
        let inside = StubUpstream()
        try await inside.start()
        defer { Task { await inside.stop() } }
        // Loopback is allowed here (the stub is on it) but only the provider's own host:port is an image host.
        try await withFixture { f in
            for url in [
                inside.imageURL(), "http+unix://%2Ftmp%2Fsock/x.png", "file:///etc/passwd", "gopher://127.0.0.1:\(inside.port)/x",
                "http://user:pw@127.0.0.1:\(f.stub.port)/files/x.png", f.stub.redirectURL(to: inside.imageURL()),
                "http://169.254.169.254/latest/meta-data/",
            ] {
                answerWithURL(f, url)
                let reply = try await f.generate(["model": "gpt-image-1", "prompt": "somewhere"], headers: [("Cache-Control", "no-store")])
                expectCleanError(reply)
                // One generic message: no status, host or port of the address is revealed.
                #expect(reply.json["error"]?["message"]?.stringValue == "The upstream's image data[0] could not be fetched.")
                #expect(try await row(f, reply).status == 503)
            }
            #expect(inside.fileRequests == 0, "a forbidden address was contacted")
            try await expectAlive(f)
        }
        // With private networks refused (the default), even the provider's own loopback host is not fetched.
        try await withFixture(configure: { $0.upstream.imageDownload.allowPrivateNetworks = false }) { f in
            answerWithURL(f, f.stub.imageURL())
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": "home"])
            expectCleanError(reply)
            #expect(f.stub.fileRequests == 0)
        }
        // And plain http is refused by default.
        try await withFixture(configure: { $0.upstream.imageDownload.allowHTTP = false }) { f in
            answerWithURL(f, f.stub.imageURL())
            expectCleanError(try await f.generate(["model": "gpt-image-1", "prompt": "plain"]))
            #expect(f.stub.fileRequests == 0)
        }
        // The allowed host still works.
        try await withFixture { f in
            answerWithURL(f, f.stub.imageURL())
            let allowed = try await f.generate(["model": "gpt-image-1", "prompt": "allowed"])
            #expect(allowed.status == 200)
        }
    }

    @Test func aHugeDeclaredImageIsRefusedAtOnce() async throws {
        try await withFixture { f in
            answerWithURL(f, f.stub.hugeImageURL)
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": "enormous"])
            expectCleanError(reply)
            #expect(f.stub.fileRequests == 1, "not retried")
            try await expectAlive(f)
        }
    }

    @Test func malformedBase64AndTooManyItemsFailCleanlyAndAreCharged() async throws {
        try await withFixture { f in
            f.stub.inject([.rewrite { body in
                var body = body
                body["data"] = .array([.object(["b64_json": .string("%%%not base64%%%")])])
                return body
            }])
            let bad = try await f.generate(["model": "gpt-image-1", "prompt": "garbled"])
            expectCleanError(bad)
            // The upstream answered (and bills): its usage is charged, 1056 × $40/1M + 1 × $5/1M.
            let b = try await row(f, bad)
            #expect(b.status == 503 && b.cost?.usdString == "0.042245" && b.attempts == ["ok"])

            let many = JSONValue.object(["created": 1, "data": .array(Array(repeating: .object(["b64_json": .string("AAAA")]), count: 10_000))])
            f.stub.inject([.answer(try JSONEncoder().encode(many))])
            let flood = try await f.generate(["model": "gpt-image-1", "prompt": "a flood"])
            expectCleanError(flood)
            let r = try await row(f, flood)
            #expect(r.cost != nil && r.costEstimated, "no usage sent: charged the worst case")
            try await expectAlive(f)
        }
    }

    @Test func unpricedTextTokensAreChargedAndTheBudgetHolds() async throws {
        try await withFixture { f in
            // gpt-image-1 has no text_output price; the upstream reports 1 text output token.
            let usage = JSONValue.object([
                "input_tokens": 5, "input_tokens_details": .object(["text_tokens": 5, "image_tokens": 0]),
                "output_tokens": 1057, "output_tokens_details": .object(["image_tokens": 1056, "text_tokens": 1]),
            ])
            f.stub.inject(Array(repeating: Self.usage(usage), count: 40))
            let one = try await f.generate(["model": "gpt-image-1", "prompt": "a b c d e", "size": "1024x1024", "quality": "medium"], headers: [("Cache-Control", "no-store")])
            let r = try await row(f, one)
            // 5 × 5000 + 1056 × 40000 + 1 × 40000 (dearest known price) nanos.
            #expect(r.cost?.nanos == 25_000 + 42_240_000 + 40_000 && r.costEstimated)

            // Each call reserves its worst case (~$0.206) and costs $0.042305: the money ends after a few.
            let budget = Money(usd: "0.50")!
            let (_, secret) = try await f.gateway.createKey(name: "half a dollar", limits: SpendLimits(budget: budget, budgetPeriod: .day))
            var served = 0
            var spent = Money.zero
            for index in 0..<20 {
                let reply = try await f.generate(
                    ["model": "gpt-image-1", "prompt": .string("call \(index)"), "size": "1024x1024", "quality": "medium"], key: secret,
                    headers: [("Cache-Control", "no-store")]
                )
                if reply.status == 200 {
                    served += 1
                    spent += try await row(f, reply).cost ?? .max
                } else {
                    #expect(reply.status == 429)
                }
            }
            #expect(served >= 1 && served < 20)
            #expect(spent <= budget)
        }
    }
}
