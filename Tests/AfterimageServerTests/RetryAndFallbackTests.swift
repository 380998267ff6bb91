import AfterimageCore
import AfterimageTesting
import Foundation
import Testing

@Suite struct RetryAndFallbackTests {
    @Test func retriesServerErrorsThenSucceeds() async throws {
        try await withFixture { f in
            f.stub.inject([.status(500), .status(502)])
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": "retry me"])
            #expect(reply.status == 200)
            #expect(f.stub.servedCount == 3)
            #expect(reply.json["extra_fields"]?["upstream_attempts"]?.integerValue == 3)
            let metrics = String(decoding: try await f.metrics().body, as: UTF8.self)
            #expect(metrics.contains("afterimage_upstream_retries_total 2"))
        }
    }

    @Test func honoursRetryAfter() async throws {
        try await withFixture { f in
            f.stub.inject([.status(429, retryAfter: "1")])
            let started = ContinuousClock.now
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": "patience"])
            #expect(reply.status == 200)
            #expect(ContinuousClock.now - started >= .milliseconds(950), "waited for Retry-After: 1")
        }
    }

    @Test func retriesDroppedConnections() async throws {
        try await withFixture { f in
            f.stub.inject([.drop])
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": "flaky"])
            #expect(reply.status == 200)
            #expect(f.stub.servedCount == 2)
        }
    }

    @Test func fallsBackInOrderAfterRetriesAreExhausted() async throws {
        try await withFixture(configure: { $0.upstream.maxAttempts = 2 }) { f in
            f.stub.inject([.status(503), .status(503)], model: "gpt-image-1")
            f.stub.inject([.status(500), .status(500)], model: "gpt-image-1-mini")
            let reply = try await f.generate([
                "model": "gpt-image-1", "prompt": "fallback",
                "fallbacks": .array([.string("gpt-image-1-mini"), .string("gpt-image-1.5")]),
            ])
            #expect(reply.status == 200)
            #expect(f.stub.received.map { $0.fields["model"]?.stringValue } == ["gpt-image-1", "gpt-image-1", "gpt-image-1-mini", "gpt-image-1-mini", "gpt-image-1.5"])
            #expect(reply.json["model"]?.stringValue == "gpt-image-1.5")
            #expect(reply.json["extra_fields"]?["model_deployment"]?.stringValue == "gpt-image-1.5")
            #expect(reply.json["extra_fields"]?["model_requested"]?.stringValue == "gpt-image-1")
        }
    }

    @Test func clientErrorsAreReturnedAtOnceNeverRetried() async throws {
        try await withFixture { f in
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": "something FORBIDDEN", "fallbacks": .array([.string("gpt-image-1-mini")])])
            #expect(reply.status == 400)
            #expect(reply.errorCode == "content_policy_violation")
            #expect(reply.json["error"]?["message"]?.stringValue?.contains("safety system") == true)
            #expect(f.stub.servedCount == 1)
        }
    }
}
