import AfterimageAlerts
import AfterimageCore
import AfterimageTesting
import Foundation
import Synchronization
import Logging
import Testing

/// An alert claimed but never delivered (its sender died, or every try failed) is sent again once
/// its lease lapsed, from the text kept with its claim — without being raised again (a budget at
/// 100% spends nothing more to raise it). Both backends.
@Suite struct AlertRedeliveryTests {
    func center(_ f: Fixture, _ settings: AlertSettings) -> AlertCenter {
        AlertCenter(
            settings: settings, claims: f.gateway.stores.alerts, sender: WebhookSender(logger: Logger(label: "alert-test")),
            spent: { _, _, _ in .zero }, keys: { [] }, logger: Logger(label: "alert-test")
        )
    }

    @Test func aLapsedClaimIsSentAgainFromItsKeptText() async throws {
        try await WebhookReceiver.with { receiver in
            try await withFixture { f async throws in
                let claims = f.gateway.stores.alerts
                var settings = AlertSettings()
                settings.webhooks = [AlertTests.hook(receiver, events: [.budget])]
                let center = center(f, settings)
                let lease = AlertCenter.claimLease(settings.webhooks)
                let past = Date().addingTimeInterval(-2 * lease)
                let alert = Alert(
                    event: .budget, dedupKey: "key_1:month:100", summary: "key 'finance' has used 100% of its monthly budget",
                    fields: ["key_id": "key_1", "threshold_percent": 100, "spent_usd": "12.000000"], createdAt: past
                )
                // Claimed long ago by a sender that never delivered it; nothing raises it again.
                #expect(try await claims.claim("budget:\(alert.dedupKey)", alert: alert.storedText, raisedAt: past, now: past, lease: lease))
                // Claimed just now: its sender may still be at work.
                let held = Alert(event: .budget, dedupKey: "held", summary: "held", fields: [:])
                #expect(try await claims.claim("budget:held", alert: held.storedText, raisedAt: Date(), now: Date(), lease: lease))

                #expect(await center.redeliverLapsed(now: Date()) == 1)
                let delivered = try await receiver.wait(for: 1)
                #expect(delivered.count == 1)
                #expect(delivered.first?.json["summary"]?.stringValue == alert.summary)
                #expect(delivered.first?.json["data"]?["threshold_percent"]?.integerValue == 100)
                #expect(delivered.first?.json["created_at"]?.stringValue == DateText.format(past), "the time it was raised")
                #expect(delivered.first?.body == alert.body(format: .json), "the body the first try would have sent")
                #expect(await center.redeliverLapsed(now: Date()) == 0, "delivered: never again")
                try await Task.sleep(for: .milliseconds(200))
                #expect(receiver.received.count == 1)
            }
        }
    }

    @Test func failedTriesKeepTheAlertForLaterAndHostileRowsAreBounded() async throws {
        try await WebhookReceiver.with(failFirst: 1_000) { refusing in
            try await withFixture { f async throws in
                let claims = f.gateway.stores.alerts
                var settings = AlertSettings()
                var hook = AlertTests.hook(refusing, events: [.upstreamFailover])
                hook.maxAttempts = 1
                settings.webhooks = [hook]
                let lease = AlertCenter.claimLease(settings.webhooks)
                let logger = Logger(label: "alert-test")
                let failed = Alert(event: .upstreamFailover, dedupKey: "gpt-image-1>mini", summary: "failover", fields: ["from": "gpt-image-1"])
                await AlertCenter.send(failed, settings: settings, claims: claims, sender: WebhookSender(logger: logger), logger: logger)
                let later = Date().addingTimeInterval(lease + 1)
                let kept = try await claims.lapsed(now: later, lease: lease, raisedSince: .distantPast, limit: 10)
                #expect(kept.map(\.key) == ["upstream_failover:gpt-image-1>mini"])
                #expect(kept.first.flatMap { Alert(storedText: $0.alert) }?.fields == failed.fields)
                #expect(try await claims.lapsed(now: Date(), lease: lease, raisedSince: .distantPast, limit: 10).isEmpty, "within its lease")

                // Raised more than the horizon ago: not sent again.
                let old = Date().addingTimeInterval(-AlertCenter.redeliveryHorizon - 60)
                #expect(try await claims.claim("upstream_failover:old", alert: failed.storedText, raisedAt: old, now: old, lease: lease))
                // An alert too long to keep is claimed without its text.
                let huge = Alert(event: .upstreamFailover, dedupKey: "huge", summary: String(repeating: "x", count: 20_000), fields: [:])
                #expect(try await claims.claim("upstream_failover:huge", alert: huge.storedText, raisedAt: Date(), now: Date().addingTimeInterval(-2 * lease), lease: lease))
                // Unreadable text, and an event no webhook takes any more: their leases start again.
                #expect(try await claims.claim("upstream_failover:garbage", alert: "{\"event\": 42", raisedAt: Date(), now: Date().addingTimeInterval(-3 * lease), lease: lease))
                let unwanted = Alert(event: .falseHit, dedupKey: "entry-9", summary: "false hit", fields: [:])
                #expect(try await claims.claim("false_hit:entry-9", alert: unwanted.storedText, raisedAt: Date(), now: Date().addingTimeInterval(-3 * lease), lease: lease))
                let due = try await claims.lapsed(now: Date(), lease: lease, raisedSince: Date().addingTimeInterval(-AlertCenter.redeliveryHorizon), limit: 10)
                #expect(Set(due.map(\.key)) == ["upstream_failover:garbage", "false_hit:entry-9"])
                // Hostile limits: none and a huge one.
                #expect(try await claims.lapsed(now: later, lease: lease, raisedSince: .distantPast, limit: -5).isEmpty)
                #expect(try await claims.lapsed(now: later, lease: lease, raisedSince: .distantPast, limit: .max).count == 4)

                let center = AlertCenter(
                    settings: settings, claims: claims, sender: WebhookSender(logger: logger),
                    spent: { _, _, _ in .zero }, keys: { [] }, logger: logger
                )
                #expect(await center.redeliverLapsed(now: Date()) == 2)
                let horizon = Date().addingTimeInterval(-AlertCenter.redeliveryHorizon)
                #expect(try await claims.lapsed(now: Date(), lease: lease, raisedSince: horizon, limit: 10).isEmpty, "pushed back a lease")
                #expect(refusing.received.isEmpty)
            }
        }
    }

    /// A threshold re-raised every second its scope spends is claimed once by this process: the
    /// claim (delivered, or kept for redelivery) owns it after that — no write per check.
    @Test func aReRaisedThresholdIsClaimedOnce() async throws {
        try await WebhookReceiver.with { receiver in
            try await withFixture { f async throws in
                let claims = CountingClaims(f.gateway.stores.alerts)
                var settings = AlertSettings()
                settings.budgetThresholds = [50, 80]
                settings.webhooks = [AlertTests.hook(receiver, events: [.budget])]
                let logger = Logger(label: "alert-test")
                let center = AlertCenter(
                    settings: settings, claims: claims, sender: WebhookSender(logger: logger),
                    spent: { _, _, _ in Money(nanos: 6_000_000_000) }, keys: { [] }, logger: logger, budgetInterval: .milliseconds(20)
                )
                let running = Task { try await center.run() }
                let limits = SpendLimits(budget: Money(nanos: 10_000_000_000), budgetPeriod: .month)
                for _ in 0..<10 {
                    center.spentMoney([(.key(id: "key_1", name: "finance"), limits)])
                    try await Task.sleep(for: .milliseconds(50))
                }
                let delivered = try await receiver.wait(for: 1)
                running.cancel()
                _ = try? await running.value
                #expect(delivered.count == 1 && delivered.first?.json["data"]?["threshold_percent"] == 50)
                #expect(claims.calls == 1, "one claim write for ten checks")
            }
        }
    }
}

/// An `AlertClaims` that counts claim calls.
final class CountingClaims: AlertClaims {
    let base: any AlertClaims
    private let count = Mutex(0)
    init(_ base: any AlertClaims) { self.base = base }
    var calls: Int { count.withLock { $0 } }

    func claim(_ key: String, alert: String?, raisedAt: Date, now: Date, lease: TimeInterval) async throws -> Bool {
        count.withLock { $0 += 1 }
        return try await base.claim(key, alert: alert, raisedAt: raisedAt, now: now, lease: lease)
    }
    func lapsed(now: Date, lease: TimeInterval, raisedSince: Date, limit: Int) async throws -> [(key: String, alert: String)] {
        try await base.lapsed(now: now, lease: lease, raisedSince: raisedSince, limit: limit)
    }
    func markDelivered(_ key: String, at: Date) async throws { try await base.markDelivered(key, at: at) }
    func prune(before cutoff: Date) async throws { try await base.prune(before: cutoff) }
    func claims(after key: String?, limit: Int) async throws -> [AlertClaimRecord] { try await base.claims(after: key, limit: limit) }
}
