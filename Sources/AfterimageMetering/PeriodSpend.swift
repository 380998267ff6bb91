import AfterimageCore
import Foundation

/// What a budgeted scope has spent this period, for budget alerts: the limiter's own figure
/// (`SpendLimiter.periodSpend`, one memory or row read), else the ledger's sum over the period
/// (a scope this process has not budgeted this period). Alerts thus report the spend the budget
/// is enforced on, and a busy scope's check does not read a month of ledger rows every second.
public struct PeriodSpend: Sendable {
    let limiter: any SpendLimiter
    let ledger: any UsageLedger

    public init(limiter: any SpendLimiter, ledger: any UsageLedger) {
        self.limiter = limiter
        self.ledger = ledger
    }

    /// `scope`'s spend in the `period` containing `now`.
    public func callAsFunction(_ scope: LimitScope, period: BudgetPeriod, now: Date) async throws -> Money {
        if let counted = try await limiter.periodSpend(scope, period: period, now: now) { return counted }
        let since = period.start(containing: now)
        switch scope {
        case .key(let id, _): return try await ledger.spent(keyID: id, namespace: nil, since: since)
        case .namespace(let name): return try await ledger.spent(keyID: nil, namespace: name, since: since)
        }
    }
}
