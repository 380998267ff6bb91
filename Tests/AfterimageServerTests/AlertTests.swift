import AfterimageAlerts
import AfterimageCore
import AfterimageServer
import AfterimageTesting
import Foundation
import Logging
import Testing

/// Webhook alerts against a local receiver: budget thresholds once per period (also across a
/// restart), HMAC signatures, retries, the Slack shape, key expiry, failovers and false-hit reports.
@Suite struct AlertTests {
    static let secret = "whsec-test-0123456789"

    static func hook(_ receiver: WebhookReceiver, events: Set<AlertEvent> = Set(AlertEvent.allCases), format: AlertSettings.Webhook.Format = .json) -> AlertSettings.Webhook {
        var hook = AlertSettings.Webhook(url: receiver.url)
        hook.events = events
        hook.secret = secret
        hook.secretEnv = "TEST"
        hook.format = format
        hook.initialBackoffMs = 20
        return hook
    }

    @Test func budgetThresholdsAlertOncePerPeriodAcrossRestarts() async throws {
        let receiver = WebhookReceiver()
        try await receiver.start()
        let stub = StubUpstream()
        try await stub.start()
        var failure: (any Error)?
        do {
            let configure: (inout AfterimageConfiguration) -> Void = { configuration in
                configuration.alerts.budgetThresholds = [1, 3]
                configuration.alerts.webhooks = [Self.hook(receiver, events: [.budget])]
            }
            var gateway = try await TestGateway(upstream: stub, configure: configure)
            // What one generation costs, from a probe key's ledger row.
            let (_, probe) = try await gateway.createKey(name: "probe")
            let probeReply = try await TestHTTP.postJSON("\(gateway.baseURL)/v1/images/generations", ["model": "gpt-image-1", "prompt": "budget probe"], key: probe)
            let probeID = try #require(probeReply.headers.first(name: "x-request-id"))
            let probeRow = try await gateway.ledgerRow(probeID)
            let cost = try #require(probeRow?.cost)
            #expect(cost > .zero)
            let (key, secret) = try await gateway.createKey(name: "finance", limits: SpendLimits(budget: cost * 100, budgetPeriod: .month))
            func spend(_ prompt: String) async throws {
                let reply = try await TestHTTP.postJSON("\(gateway.baseURL)/v1/images/generations", ["model": "gpt-image-1", "prompt": .string(prompt)], key: secret)
                #expect(reply.status == 200)
            }
            try await spend("budget one")  // 1% (the budget is far above the worst case a request reserves)
            let first = try await receiver.wait(for: 1)
            #expect(first.count == 1)
            try await spend("budget two")  // 2%: nothing new
            try await Task.sleep(for: .seconds(2))
            // Restarted on the same database: 1% is not sent again.
            await gateway.stop()
            gateway = try await TestGateway(upstream: stub, dataDirectory: gateway.dataDirectory, configure: configure)
            try await spend("budget three")  // 3%
            let all = try await receiver.wait(for: 2)
            try await Task.sleep(for: .seconds(2))
            #expect(receiver.received.count == 2, "\(receiver.received.map(\.json))")
            #expect(all.compactMap { $0.json["data"]?["threshold_percent"]?.integerValue } == [1, 3])
            // The spend the budget is enforced on (the limiter's, one read), also after the restart.
            #expect(all.compactMap { $0.json["data"]?["spent_usd"]?.stringValue } == [cost.usdString, (cost * 3).usdString])
            for delivery in all {
                #expect(delivery.headers["x-afterimage-event"] == "budget")
                #expect(delivery.headers["x-afterimage-signature"] == WebhookSender.signature(delivery.body, secret: Self.secret))
                #expect(delivery.json["event"] == "budget")
                #expect(delivery.json["data"]?["key_id"]?.stringValue == key.id)
                #expect(delivery.json["data"]?["period"] == "month")
                #expect(delivery.json["summary"]?.stringValue?.contains("finance") == true)
            }
            #expect(all.allSatisfy { $0.json["data"]?["key_id"]?.stringValue != nil }, "the probe key has no budget: no alert")
            await gateway.stop()
        } catch {
            failure = error
        }
        await stub.stop()
        await receiver.stop()
        if let failure { throw failure }
    }

    @Test func aNamespaceBudgetAlertsForItsKeysTogether() async throws {
        try await WebhookReceiver.with { receiver in
            try await withFixture(configure: { configuration in
                configuration.alerts.budgetThresholds = [2]
                configuration.alerts.webhooks = [Self.hook(receiver, events: [.budget])]
            }) { f in
                let probe = try await f.generate(["model": "gpt-image-1", "prompt": "namespace probe"])
                let probeRow = try await f.gateway.ledgerRow(try #require(probe.headers.first(name: "x-request-id")))
                let cost = try #require(probeRow?.cost)
                #expect(try await f.admin(.PATCH, "/admin/namespaces/design", ["budget_usd": .string((cost * 100).usdString), "budget_period": "day"]).status == 200)
                // Two keys of the namespace, neither with a budget of its own: 1% each, 2% together.
                let (_, first) = try await f.gateway.createKey(name: "design-a", namespace: "design")
                let (_, second) = try await f.gateway.createKey(name: "design-b", namespace: "design")
                #expect(try await f.generate(["model": "gpt-image-1", "prompt": "design one"], key: first).status == 200)
                try await Task.sleep(for: .milliseconds(1500))
                #expect(receiver.received.isEmpty, "1% is below every threshold")
                #expect(try await f.generate(["model": "gpt-image-1", "prompt": "design two"], key: second).status == 200)
                let delivered = try await receiver.wait(for: 1)
                #expect(delivered.count == 1)
                #expect(delivered.first?.json["data"]?["namespace"] == "design")
                #expect(delivered.first?.json["data"]?["threshold_percent"] == 2)
                #expect(delivered.first?.json["data"]?["period"] == "day")
                #expect(delivered.first?.json["data"]?["key_id"] == nil, "a namespace alert names the namespace, not a key")
            }
        }
    }

    /// A streamed miss spends like a JSON one: its key's budget is checked and alerts.
    @Test func aStreamedMissTriggersTheBudgetCheck() async throws {
        try await WebhookReceiver.with { receiver in
            try await withFixture(configure: { configuration in
                configuration.alerts.budgetThresholds = [1]
                configuration.alerts.webhooks = [Self.hook(receiver, events: [.budget])]
            }) { f in
                let request: [String: JSONValue] = ["model": "gpt-image-1", "prompt": "a streamed probe", "stream": true, "partial_images": 1]
                let probe = try await f.generate(request)
                let probeRow = try await f.gateway.ledgerRow(try #require(probe.headers.first(name: "x-request-id")))
                let cost = try #require(probeRow?.cost)
                let (key, secret) = try await f.gateway.createKey(name: "streamer", limits: SpendLimits(budget: cost * 50, budgetPeriod: .day))
                var streamed = request
                streamed["prompt"] = "a streamed paper boat"
                let reply = try await f.generate(streamed, key: secret)
                #expect(reply.status == 200 && reply.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true)
                let delivered = try await receiver.wait(for: 1)
                #expect(delivered.first?.json["data"]?["key_id"]?.stringValue == key.id)
                #expect(delivered.first?.json["data"]?["threshold_percent"] == 1)
            }
        }
    }

    @Test func expiryFailoverAndFalseHitReachASlackHookThroughRetries() async throws {
        let receiver = WebhookReceiver(failFirst: 2)
        try await receiver.start()
        let stub = StubUpstream()
        try await stub.start()
        var failure: (any Error)?
        do {
            let configure: (inout AfterimageConfiguration) -> Void = { configuration in
                configuration.alerts.webhooks = [Self.hook(receiver, format: .slack)]
                configuration.upstream.maxAttempts = 1
            }
            // A key expiring in two days exists when the server starts. The keys are made on a
            // gateway without webhooks: one with them could run its start-up expiry scan after the
            // key exists, claim the alert and be stopped mid-retry (seen once in a PostgreSQL CI pass).
            var gateway = try await TestGateway(upstream: stub, configure: { $0.upstream.maxAttempts = 1 })
            let (expiring, _) = try await gateway.createKey(name: "expiring", expiresAt: Date().addingTimeInterval(2 * 86_400))
            let (_, secret) = try await gateway.createKey(name: "user")
            await gateway.stop()
            gateway = try await TestGateway(upstream: stub, dataDirectory: gateway.dataDirectory, configure: configure)
            let expiry = try await receiver.wait(for: 1)
            #expect(expiry.first?.headers["x-afterimage-event"] == "key_expiry")
            #expect(expiry.first?.headers["x-afterimage-delivery-attempt"] == "3", "two 500s, then delivered")
            #expect(expiry.first?.json["text"]?.stringValue?.contains("expiring") == true)
            #expect(expiry.first?.json["blocks"]?.arrayValue?.count == 2)
            #expect(expiry.first.map { String(decoding: $0.body, as: UTF8.self).contains(expiring.id) } == true)

            // A failover: the first model answers 503, the fallback serves.
            stub.inject([.status(503)], model: "gpt-image-1")
            let url = "\(gateway.baseURL)/v1/images/generations"
            let fallback = try await TestHTTP.postJSON(url, ["model": "gpt-image-1", "prompt": "a failing lighthouse", "fallbacks": .array([.string("gpt-image-1-mini")])], key: secret)
            #expect(fallback.status == 200)
            // Twice in the same hour: one alert.
            stub.inject([.status(503)], model: "gpt-image-1")
            _ = try await TestHTTP.postJSON(url, ["model": "gpt-image-1", "prompt": "another failing lighthouse", "fallbacks": .array([.string("gpt-image-1-mini")])], key: secret)

            // A false-hit report.
            _ = try await TestHTTP.postJSON(url, ["model": "gpt-image-1", "prompt": "a grey cat on a bookshelf"], key: secret)
            _ = try await TestHTTP.postJSON(url, ["model": "gpt-image-1", "prompt": "Please draw a gray cat on a bookshelf"], key: secret)
            let admin = [("Authorization", "Bearer \(TestGateway.adminKey)")]
            let log = try await TestHTTP.request(.GET, "\(gateway.baseURL)/admin/cache/lookups", headers: admin).json["data"]?.arrayValue ?? []
            let served = try #require(log.first { $0["decision"] == "semantic" }?["id"]?.integerValue)
            let labelled = try await TestHTTP.postJSON("\(gateway.baseURL)/admin/cache/labels", ["id": .integer(served), "label": "different", "by": "alice"], key: TestGateway.adminKey)
            #expect(labelled.status == 200)

            let all = try await receiver.wait(for: 3)
            try await Task.sleep(for: .seconds(1))
            let events = receiver.received.compactMap { $0.headers["x-afterimage-event"] }
            #expect(events.sorted() == ["false_hit", "key_expiry", "upstream_failover"], "\(events)")
            let failover = try #require(all.first { $0.headers["x-afterimage-event"] == "upstream_failover" })
            #expect(failover.json["text"]?.stringValue?.contains("gpt-image-1-mini") == true)
            let falseHit = try #require(all.first { $0.headers["x-afterimage-event"] == "false_hit" })
            #expect(falseHit.json["text"]?.stringValue?.contains("alice") == true)
            #expect(all.allSatisfy { $0.headers["x-afterimage-signature"] == WebhookSender.signature($0.body, secret: Self.secret) })
            await gateway.stop()
        } catch {
            failure = error
        }
        await stub.stop()
        await receiver.stop()
        if let failure { throw failure }
    }

    @Test func aFalseHitLabelledWithTheCLIIsAnnouncedOnce() async throws {
        try CommandLineTests.requireBinary()
        try await WebhookReceiver.with { receiver in
            try await withFixture { f in
                _ = try await f.generate(["model": "gpt-image-1", "prompt": "a red sports car on a mountain road"])
                _ = try await f.generate(["model": "gpt-image-1", "prompt": "a blue sports car on a mountain road"])
                let lookups = try await f.admin(.GET, "/admin/cache/lookups").json["data"]?.arrayValue ?? []
                let id = try #require(lookups.first?["id"]?.integerValue)
                let config = FileManager.default.temporaryDirectory.appendingPathComponent("alerts-\(UUID().uuidString).yaml")
                try """
                    alerts:
                      webhooks:
                        - url: \(receiver.url)
                          events: [false_hit]
                          secret_env: CLI_HOOK_SECRET
                    """.write(to: config, atomically: true, encoding: .utf8)
                let environment = f.gateway.cliEnvironment.merging([
                    "PATH": "/usr/bin:/bin", "AFTERIMAGE_CONFIG": config.path, "CLI_HOOK_SECRET": Self.secret,
                ]) { $1 }
                for _ in 0..<2 {
                    let outcome = try await ChildProcess.run(
                        CommandLineTests.binary, ["cache", "label", String(id), "different", "--by", "dave"],
                        environment: environment, directory: FileManager.default.temporaryDirectory
                    )
                    #expect(outcome.status == 0, "\(outcome.stderr)")
                }
                let received = receiver.received
                #expect(received.count == 1, "labelled twice, announced once")
                #expect(received.first?.json["data"]?["labelled_by"] == "dave")
                #expect(received.first?.json["data"]?["lookup_id"]?.integerValue == id)
                #expect(received.first.map { $0.headers["x-afterimage-signature"] == WebhookSender.signature($0.body, secret: Self.secret) } == true)
            }
        }
    }

    @Test(arguments: [
        ("alerts:\n  webhooks:\n    - url: ftp://hooks.example/x", "alerts.webhooks[0].url"),
        ("alerts:\n  webhooks:\n    - events: [budget]", "alerts.webhooks[0].url"),
        ("alerts:\n  webhooks:\n    - url: https://h.example/x\n      events: [budgets]", "alerts.webhooks[0].events"),
        ("alerts:\n  webhooks:\n    - url: https://h.example/x\n      events: []", "alerts.webhooks[0].events"),
        ("alerts:\n  webhooks:\n    - url: https://h.example/x\n      secret_env: AFTERIMAGE_UNSET_SECRET", "alerts.webhooks[0].secret_env"),
        ("alerts:\n  webhooks:\n    - url: https://h.example/x\n      max_attempts: 11", "alerts.webhooks[0].max_attempts"),
        ("alerts:\n  webhooks:\n    - url: https://h.example/x\n      format: xml", "alerts.webhooks[0].format"),
        ("alerts:\n  webhooks:\n    - url: https://h.example/x\n      colour: red", "alerts.webhooks[0].colour"),
        ("alerts:\n  budget_thresholds: [0]", "alerts.budget_thresholds[0]"),
        ("alerts:\n  budget_thresholds: [1001]", "alerts.budget_thresholds[0]"),
        ("alerts:\n  budget_thresholds: [1,2,3,4,5,6,7,8,9,10,11]", "alerts.budget_thresholds"),
        ("alerts:\n  key_expiry_days: 400", "alerts.key_expiry_days"),
        ("alerts:\n  webhooks:\n" + String(repeating: "    - url: https://h.example/x\n", count: 11), "alerts.webhooks"),
        ("alerts:\n  webhooks:\n    - url: https://h.example/\(String(repeating: "p", count: 3000))", "alerts.webhooks[0].url"),
    ])
    func hostileAlertSettingsAreRefusedByName(yaml: String, key: String) throws {
        #expect {
            _ = try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        } throws: { error in
            "\(error)".contains(key)
        }
    }

    @Test func alertSettingsParseWithTheSecretFromTheEnvironment() throws {
        let configuration = try ConfigurationLoader.parse(yaml: """
            alerts:
              budget_thresholds: [80, 50, 80]
              key_expiry_days: 3
              webhooks:
                - url: https://hooks.slack.example/services/T/B/X
                  events: [budget, false_hit]
                  secret_env: HOOK_SECRET
                  format: slack
                  max_attempts: 3
            """, environment: ["HOOK_SECRET": "s3cret"])
        #expect(configuration.alerts.budgetThresholds == [50, 80])
        #expect(configuration.alerts.keyExpiryDays == 3)
        let hook = try #require(configuration.alerts.webhooks.first)
        #expect(hook.events == [.budget, .falseHit])
        #expect(hook.secret == "s3cret" && hook.format == .slack && hook.maxAttempts == 3)
    }

    /// A claim holds off other senders for its lease; one never marked delivered (its sender died
    /// or every try failed) can be taken over after it; a delivered one never again until pruned.
    /// On the gateway's backend (SQLite, or PostgreSQL in pass 3).
    @Test func claimsHoldForTheirLeaseAndForeverOnceDelivered() async throws {
        try await withFixture { f in
            let claims = f.gateway.stores.alerts
            let now = Date()
            let key = "budget:key:x:day:2026-12-04:50"
            #expect(try await claims.claim(key, now: now, lease: 600))
            #expect(try await !claims.claim(key, now: now.addingTimeInterval(599), lease: 600), "held by its sender")
            #expect(try await claims.claim(key, now: now.addingTimeInterval(601), lease: 600), "never delivered: taken over")
            try await claims.markDelivered(key, at: now.addingTimeInterval(602))
            #expect(try await !claims.claim(key, now: now.addingTimeInterval(86_400), lease: 600), "delivered: never again")
            let huge = String(repeating: "k", count: 100_000)
            #expect(try await claims.claim(huge, now: now, lease: 600), "a hostile key is stored bounded")
            try await claims.markDelivered(huge, at: now)
            #expect(try await !claims.claim(huge, now: now.addingTimeInterval(86_400), lease: 600))
            #expect(try await !claims.claim(huge, now: now, lease: -1e300), "a hostile lease counts as none")
            for hostile in [TimeInterval.infinity, -.infinity, .nan, .greatestFiniteMagnitude] {
                #expect(try await claims.claim("lease:\(hostile)", now: now, lease: hostile), "stored with a clamped lease")
                // A huge lease holds (clamped to a week); a negative or NaN one counts as none.
                let heldOff = hostile > 0
                #expect(try await claims.claim("lease:\(hostile)", now: now.addingTimeInterval(1), lease: hostile) == !heldOff)
            }
            #expect(AlertClaimLease.cutoff(now: now, lease: .infinity) == now.addingTimeInterval(-AlertClaimLease.maxSeconds))
            #expect(AlertClaimLease.cutoff(now: now, lease: .nan) == now)
            try await claims.prune(before: now.addingTimeInterval(60))
            #expect(try await !claims.claim(key, now: now.addingTimeInterval(86_400), lease: 600), "recent claims stay")
            try await claims.prune(before: now.addingTimeInterval(700))
            #expect(try await claims.claim(key, now: now.addingTimeInterval(86_400), lease: 600), "pruned claims can be made again")
        }
    }

    /// An alert claimed by a sender that died before delivering it goes out once the claim's lease
    /// has passed, and then only once; an alert whose every try failed stays claimable.
    @Test func anAlertClaimedByADeadSenderGoesOutAfterItsLease() async throws {
        let receiver = WebhookReceiver()
        try await receiver.start()
        let refusing = WebhookReceiver(failFirst: 1_000)
        try await refusing.start()
        var failure: (any Error)?
        do {
            try await withFixture { f async throws in
                let claims = f.gateway.stores.alerts
                let logger = Logger(label: "alert-test")
                let sender = WebhookSender(logger: logger)
                var settings = AlertSettings()
                settings.webhooks = [Self.hook(receiver)]
                let lease = AlertCenter.claimLease(settings.webhooks)
                // Claimed long ago by a sender that never marked it delivered.
                #expect(try await claims.claim("upstream_failover:dead-sender", now: Date().addingTimeInterval(-2 * lease), lease: lease))
                let orphaned = Alert(event: .upstreamFailover, dedupKey: "dead-sender", summary: "failover", fields: [:])
                await AlertCenter.send(orphaned, settings: settings, claims: claims, sender: sender, logger: logger)
                #expect(receiver.received.count == 1)
                await AlertCenter.send(orphaned, settings: settings, claims: claims, sender: sender, logger: logger)
                #expect(receiver.received.count == 1, "delivered once")
                // Claimed just now by a sender still at work: left to it.
                #expect(try await claims.claim("upstream_failover:held", now: Date(), lease: lease))
                await AlertCenter.send(Alert(event: .upstreamFailover, dedupKey: "held", summary: "failover", fields: [:]), settings: settings, claims: claims, sender: sender, logger: logger)
                #expect(receiver.received.count == 1)
                // Every try refused: not marked, so claimable again once the lease passed.
                var refused = AlertSettings()
                var hook = Self.hook(refusing)
                hook.maxAttempts = 2
                refused.webhooks = [hook]
                await AlertCenter.send(Alert(event: .upstreamFailover, dedupKey: "refused", summary: "failover", fields: [:]), settings: refused, claims: claims, sender: sender, logger: logger)
                let refusedLease = AlertCenter.claimLease(refused.webhooks)
                #expect(try await !claims.claim("upstream_failover:refused", now: Date(), lease: refusedLease))
                #expect(try await claims.claim("upstream_failover:refused", now: Date().addingTimeInterval(refusedLease + 1), lease: refusedLease))
            }
        } catch {
            failure = error
        }
        await receiver.stop()
        await refusing.stop()
        if let failure { throw failure }
    }

    @Test func leasesCoverTheSlowestDelivery() {
        var hook = AlertSettings.Webhook(url: "http://127.0.0.1:1/hook")
        hook.maxAttempts = 3
        hook.timeoutMs = 2_000
        hook.initialBackoffMs = 1_000
        // Three tries of 2 s, waits of 1 s and 2 s.
        #expect(hook.longestDelivery == 9)
        hook.maxAttempts = 10
        hook.timeoutMs = 60_000
        hook.initialBackoffMs = 60_000
        // 600 s of tries; waits 60, 120, 240, then 300 six times.
        let slowest: TimeInterval = 600 + 60 + 120 + 240 + 1_800
        #expect(hook.longestDelivery == slowest)
        #expect(AlertCenter.claimLease([]) == 60 && AlertCenter.claimLease([hook]) == hook.longestDelivery + 60)
    }

    @Test func signaturesAndShares() {
        // RFC-style known value: HMAC-SHA256("secret", "hello").
        #expect(WebhookSender.signature(Data("hello".utf8), secret: "secret") == "sha256=88aab3ede8d3adf94d26ab90d3bafd4a2083070c3bcce9c014ee04a443847c0b")
    }
}
