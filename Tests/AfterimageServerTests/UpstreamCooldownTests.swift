import AfterimageAlerts
import AfterimageCore
import AfterimageServer
import AfterimageTesting
import AfterimageUpstream
import Foundation
import Synchronization
import Testing

/// A model failing in a row rests (`upstream.cooldown`): skipped while a fallback is there, one
/// attempt when none is, healthy again after a success or when the cool-down ends.
@Suite struct UpstreamCooldownTests {
    func send(_ f: Fixture, _ prompt: String, fallbacks: Bool) async throws -> (reply: TestHTTP.Reply, attempts: [String]) {
        var body: [String: JSONValue] = ["model": "gpt-image-1", "prompt": .string(prompt)]
        if fallbacks { body["fallbacks"] = ["gpt-image-1-mini"] }
        let reply = try await f.generate(body)
        let id = try #require(reply.headers.first(name: "x-request-id"))
        return (reply, try await f.gateway.ledgerRow(id)?.attempts ?? [])
    }

    func deployment(_ reply: TestHTTP.Reply) -> String? { reply.json["extra_fields"]?["model_deployment"]?.stringValue }
    func calls(_ f: Fixture) -> Int { f.stub.received.filter { $0.fields["model"] == "gpt-image-1" }.count }

    @Test func aFailingModelIsSkippedWhileItRestsAndTriedOnceWithoutAFallback() async throws {
        try await WebhookReceiver.with { receiver in
            try await withFixture(configure: { config in
                // An hour's rest: however slow a loaded machine is, it does not end on its own here.
                config.upstream.cooldown = UpstreamCooldown.Settings(failures: 3, seconds: 3_600)
                config.upstream.initialBackoffMs = 10
                config.alerts.webhooks = [AlertTests.hook(receiver, events: [.upstreamCooldown])]
            }) { f async throws in
                f.stub.inject(Array(repeating: StubUpstream.Fault(status: 500), count: 4), model: "gpt-image-1")
                // Three failures in a row, then the fallback: the model now rests.
                let first = try await send(f, "a harbour at noon", fallbacks: true)
                #expect(first.reply.status == 200 && deployment(first.reply) == "gpt-image-1-mini")
                #expect(first.attempts == ["http_500", "http_500", "http_500", "ok"])
                // Resting: skipped, the fallback answers at once.
                let skipped = try await send(f, "a harbour at dusk", fallbacks: true)
                #expect(skipped.reply.status == 200 && deployment(skipped.reply) == "gpt-image-1-mini")
                #expect(skipped.attempts == ["cooldown", "ok"] && skipped.reply.json["extra_fields"]?["upstream_attempts"] == 1)
                #expect(calls(f) == 3)
                let health = try await f.admin(.GET, "/admin/upstream")
                #expect(health.status == 200 && health.json["cooldown"]?["seconds"] == 3_600)
                let resting = try #require(health.json["models"]?.arrayValue?.first)
                #expect(resting["model"] == "openai/gpt-image-1" && resting["failures_in_a_row"] == 3 && resting["resting"] == true)
                #expect((1...3_600).contains(resting["resting_seconds_left"]?.integerValue ?? 0))
                let metrics = String(decoding: try await f.metrics().body, as: UTF8.self)
                #expect(metrics.contains("afterimage_upstream_cooldown_skips_total 1"), "\(metrics.split(separator: "\n").filter { $0.contains("cooldown") })")
                // Nothing else to try: one attempt, not a round of retries.
                let alone = try await send(f, "a harbour at night", fallbacks: false)
                #expect(alone.reply.status == 503 && alone.reply.errorCode == "upstream_unavailable")
                #expect(alone.attempts == ["http_500"] && calls(f) == 4)
                // That attempt succeeds once the upstream is back, and the rest ends.
                let back = try await send(f, "a harbour at dawn", fallbacks: false)
                #expect(back.reply.status == 200 && back.attempts == ["ok"] && deployment(back.reply) == "gpt-image-1")
                let healthy = try await send(f, "a harbour in fog", fallbacks: true)
                #expect(healthy.attempts == ["ok"] && deployment(healthy.reply) == "gpt-image-1")
                // One alert when the rest began; the failed single attempt prolonged it without another.
                let alerts = try await receiver.wait(for: 1)
                try await Task.sleep(for: .milliseconds(300))
                #expect(receiver.received.count == 1 && alerts.first?.json["event"] == "upstream_cooldown")
                #expect(alerts.first?.json["data"]?["model"] == "openai/gpt-image-1" && alerts.first?.json["data"]?["failures_in_a_row"] == 3)
                #expect(try await f.admin(.GET, "/admin/upstream").json["models"] == .array([]), "healthy again: not listed")
                let unknown = try await f.admin(.GET, "/admin/upstream?verbose=1")
                #expect(unknown.status == 400 && unknown.json["error"]?["message"]?.stringValue?.contains("this route takes none") == true)
            }
        }
    }

    /// Checked apart, with a one-second rest: the assertions above need a rest that outlasts a
    /// loaded machine's pauses, this one only a rest that has ended.
    @Test func aRestEndsOnItsOwn() async throws {
        try await withFixture(configure: { config in
            config.upstream.cooldown = UpstreamCooldown.Settings(failures: 3, seconds: 1)
            config.upstream.initialBackoffMs = 10
        }) { f async throws in
            f.stub.inject(Array(repeating: StubUpstream.Fault(status: 503), count: 3), model: "gpt-image-1")
            let failing = try await send(f, "a harbour in rain", fallbacks: true)
            #expect(failing.attempts == ["http_503", "http_503", "http_503", "ok"])
            try await Task.sleep(for: .milliseconds(1_200))
            let rested = try await send(f, "a harbour in sun", fallbacks: true)
            #expect(rested.attempts == ["ok"] && deployment(rested.reply) == "gpt-image-1")
        }
    }

    @Test func offItRetriesEveryTime() async throws {
        try await withFixture(configure: { config in
            config.upstream.cooldown = UpstreamCooldown.Settings(failures: 0, seconds: 30)
            config.upstream.initialBackoffMs = 10
        }) { f async throws in
            f.stub.inject(Array(repeating: StubUpstream.Fault(status: 500), count: 6), model: "gpt-image-1")
            #expect(try await send(f, "a pier at noon", fallbacks: true).attempts == ["http_500", "http_500", "http_500", "ok"])
            #expect(try await send(f, "a pier at dusk", fallbacks: true).attempts == ["http_500", "http_500", "http_500", "ok"])
        }
    }

    @Test func theBookCountsFailuresInARowAndStaysBounded() {
        let rests = CallCounter()
        let book = UpstreamCooldown(UpstreamCooldown.Settings(failures: 2, seconds: 10)) { _ in rests.increment() }
        let now = ContinuousClock.now
        #expect(!book.failed("openai/a", now: now) && !book.isCooling("openai/a", now: now))
        book.succeeded("openai/a")
        #expect(!book.failed("openai/a", now: now), "a success starts the count again")
        #expect(book.failed("openai/a", now: now) && book.isCooling("openai/a", now: now + .seconds(9)))
        #expect(!book.isCooling("openai/a", now: now + .seconds(10)))
        #expect(book.failed("openai/a", now: now + .seconds(5)) && rests.value == 1, "prolonged, not begun again")
        #expect(book.failed("openai/a", now: now + .seconds(16)), "a failure after a rest starts another at once")
        #expect(rests.value == 2)
        #expect(!UpstreamCooldown.off.failed("x") && !UpstreamCooldown.off.isCooling("x"))
        // Hostile: endless distinct names are not all remembered.
        for index in 0..<10_100 { book.failed("p/\(index)", now: now) }
        #expect(!book.failed("p/new", now: now) && !book.failed("p/new", now: now) && !book.isCooling("p/new", now: now))
    }
}

/// Counts calls from any thread.
final class CallCounter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
