import AfterimageCore
import AfterimageMetering
import Foundation
import Synchronization
import Testing

/// A ledger that only answers `spent` (what the key spent earlier this period).
final class FixedLedger: UsageLedger {
    let earlier: Money
    let queries = Mutex(0)
    init(earlier: Money) { self.earlier = earlier }
    func record(_ row: UsageRecord) async throws {}
    func spent(keyID: String?, namespace: String?, since: Date) async throws -> Money {
        queries.withLock { $0 += 1 }
        return earlier
    }
}

@Suite struct LimitEnforcerTests {
    let key = LimitEnforcer.Scope.key(id: "key_1", name: "team")

    @Test func periodsAreCalendarAlignedInUTC() throws {
        let date = try #require(ISO8601DateFormatter().date(from: "2026-11-21T15:30:00Z")) // a Saturday
        let format = { (d: Date) in ISO8601DateFormatter().string(from: d) }
        #expect(format(BudgetPeriod.day.start(containing: date)) == "2026-11-21T00:00:00Z")
        #expect(format(BudgetPeriod.day.end(containing: date)) == "2026-11-22T00:00:00Z")
        #expect(format(BudgetPeriod.week.start(containing: date)) == "2026-11-16T00:00:00Z")
        #expect(format(BudgetPeriod.week.end(containing: date)) == "2026-11-23T00:00:00Z")
        #expect(format(BudgetPeriod.month.start(containing: date)) == "2026-11-01T00:00:00Z")
        #expect(format(BudgetPeriod.month.end(containing: date)) == "2026-12-01T00:00:00Z")
    }

    @Test func budgetCountsEarlierSpendAndRefusesWhatCannotFit() async throws {
        let ledger = FixedLedger(earlier: Money(nanos: 4_000))
        let enforcer = LimitEnforcer(ledger: ledger)
        let limits = SpendLimits(budget: Money(nanos: 10_000), budgetPeriod: .day)
        let first = try await enforcer.reserve([(key, limits)], worstCase: Money(nanos: 5_000))
        await enforcer.settle(first, actual: Money(nanos: 3_000))
        // 4000 + 3000 spent: a 3000 worst case fits, a 3001 one does not.
        await #expect(throws: AfterimageError.self) { _ = try await enforcer.reserve([(key, limits)], worstCase: Money(nanos: 3_001)) }
        let second = try await enforcer.reserve([(key, limits)], worstCase: Money(nanos: 3_000))
        await enforcer.settle(second, actual: nil)
        #expect(ledger.queries.withLock { $0 } == 1, "spend is loaded once, then kept in memory")
    }

    @Test func aRequestThatFitsOnceOthersSettleWaits() async throws {
        let enforcer = LimitEnforcer(ledger: FixedLedger(earlier: .zero))
        let limits = SpendLimits(budget: Money(nanos: 10_000), budgetPeriod: .month)
        let held = try await enforcer.reserve([(key, limits)], worstCase: Money(nanos: 8_000))
        let waiting = Task { try await enforcer.reserve([(key, limits)], worstCase: Money(nanos: 5_000)) }
        try await Task.sleep(for: .milliseconds(50))
        await enforcer.settle(held, actual: Money(nanos: 2_000))
        let admitted = try await waiting.value
        await enforcer.settle(admitted, actual: Money(nanos: 5_000))
        // 2000 + 5000 = 7000 spent; 3001 more can never fit.
        await #expect(throws: AfterimageError.self) { _ = try await enforcer.reserve([(key, limits)], worstCase: Money(nanos: 3_001)) }
    }

    @Test func perMinuteLimitsNameTheLimitAndTheWait() async throws {
        let enforcer = LimitEnforcer(ledger: FixedLedger(earlier: .zero))
        let now = Date()
        let limits = SpendLimits(requestsPerMinute: 2, imagesPerMinute: 5)
        try enforcer.admit([(key, limits)], imageCount: 2, now: now)
        try enforcer.admit([(key, limits)], imageCount: 2, now: now.addingTimeInterval(10))
        do {
            try enforcer.admit([(key, limits)], imageCount: 1, now: now.addingTimeInterval(20))
            Issue.record("a third request in a minute must be refused")
        } catch let error as AfterimageError {
            #expect(error.statusCode == 429 && error.retryAfterSeconds == 40)
            #expect(error.message.contains("key 'team'") && error.message.contains("2 requests per minute"))
        }
        // After the first leaves the window: one request fits, but not 2 more images (2 + 2 + 2 > 5).
        do {
            try enforcer.admit([(key, SpendLimits(imagesPerMinute: 5))], imageCount: 2, now: now.addingTimeInterval(30))
            Issue.record("images per minute must be refused")
        } catch let error as AfterimageError {
            #expect(error.message.contains("5 images per minute") && error.retryAfterSeconds == 30)
        }
        try enforcer.admit([(key, limits)], imageCount: 1, now: now.addingTimeInterval(61))
    }
}

/// Budget alerts read a scope's spend from the limiter (no ledger sum per check), and from the
/// ledger only for a scope the limiter has not counted this period.
@Suite struct PeriodSpendTests {
    @Test func theLimitersFigureIsReadWithoutSummingTheLedger() async throws {
        let ledger = FixedLedger(earlier: Money(nanos: 4_000))
        let enforcer = LimitEnforcer(ledger: ledger)
        let spend = PeriodSpend(limiter: enforcer, ledger: ledger)
        let key = LimitScope.key(id: "key_1", name: "team")
        // Mid-month: the day's and the month's periods start at different times.
        let now = try #require(ISO8601DateFormatter().date(from: "2026-11-21T15:30:00Z"))
        let held = try await enforcer.reserve([(key, SpendLimits(budget: Money(nanos: 100_000), budgetPeriod: .day))], worstCase: Money(nanos: 5_000), now: now)
        await enforcer.settle(held, actual: Money(nanos: 3_000))
        #expect(ledger.queries.withLock { $0 } == 1)
        for _ in 0..<100 { #expect(try await spend(key, period: .day, now: now) == Money(nanos: 7_000)) }
        #expect(ledger.queries.withLock { $0 } == 1, "a hundred checks, no ledger sum")
        // Not counted: a scope never budgeted here, another period, the next day.
        #expect(try await spend(.namespace("design"), period: .day, now: now) == Money(nanos: 4_000))
        #expect(try await spend(key, period: .month, now: now) == Money(nanos: 4_000))
        #expect(try await spend(key, period: .day, now: now.addingTimeInterval(86_400)) == Money(nanos: 4_000))
        #expect(ledger.queries.withLock { $0 } == 4)
    }
}
