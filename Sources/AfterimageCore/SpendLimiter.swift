import Foundation

/// Whose limit: a key (by id, with its name for messages) or a namespace.
public enum LimitScope: Hashable, Sendable {
    case key(id: String, name: String)
    case namespace(String)

    /// How messages name it.
    public var label: String {
        switch self {
        case .key(_, let name): return "key '\(name)'"
        case .namespace(let name): return "namespace '\(name)'"
        }
    }

    /// A stable identity for shared counters (`key:<id>`, `namespace:<name>`).
    public var storageKey: String {
        switch self {
        case .key(let id, _): return "key:\(id)"
        case .namespace(let name): return "namespace:\(name)"
        }
    }
}

/// Budget held for a request until it settles: per scope, the period and amount (in-process
/// limiter) or the shared hold's row id (cluster-wide limiter).
public struct BudgetReservation: Sendable {
    public struct Hold: Sendable {
        public var scope: LimitScope
        public var period: Date
        public var amount: Money
        public var id: Int64?
        public init(scope: LimitScope, period: Date, amount: Money, id: Int64? = nil) {
            self.scope = scope
            self.period = period
            self.amount = amount
            self.id = id
        }
    }
    public var holds: [Hold]
    public init(holds: [Hold]) { self.holds = holds }
}

/// Per-minute rate limits and spend budgets of keys and namespaces. In one process they are
/// counted in memory; replicas sharing PostgreSQL count them in rows updated atomically there.
public protocol SpendLimiter: Sendable {
    /// Counts a request of `imageCount` images against each scope's per-minute limits, or throws
    /// 429 naming the limit, with `Retry-After` until a slot frees. With `countsRequest` false only
    /// the images are checked and counted (the request itself was admitted earlier).
    func admit(_ scopes: [(LimitScope, SpendLimits)], imageCount: Int, countsRequest: Bool, now: Date) async throws
    /// Holds `worstCase` in every scope with a budget; waits while in-flight holds could still
    /// free enough; throws 429 when the budget cannot cover it.
    func reserve(_ scopes: [(LimitScope, SpendLimits)], worstCase: Money, now: Date) async throws -> BudgetReservation
    /// Releases the hold and adds what the request really cost (nil or zero for failures).
    func settle(_ reservation: BudgetReservation, actual: Money?) async
    /// Budget left this period per key, for keys with a budget seen lately (gauges).
    func remainingByKey() async -> [(keyID: String, remaining: Money)]
    /// What `scope` has spent in the `period` containing `now` as this limiter counts it (the
    /// ledger's sum when the scope was first budgeted this period, plus every settled request
    /// since), or nil when it has not counted the scope this period. One memory or row read:
    /// budget alerts ask every second a scope spends, where a ledger sum reads the whole period.
    func periodSpend(_ scope: LimitScope, period: BudgetPeriod, now: Date) async throws -> Money?
}

/// The 429s every limiter gives, worded the same way.
public enum LimitRefusal {
    public static func requests(_ scope: LimitScope, rpm: Int, wait: Int) -> AfterimageError {
        AfterimageError(
            status: 429, code: .rateLimited,
            message: "Rate limit reached for \(scope.label): \(rpm) requests per minute. Resets in \(wait) s.", retryAfterSeconds: wait
        )
    }

    public static func images(_ scope: LimitScope, ipm: Int, asked: Int, wait: Int) -> AfterimageError {
        AfterimageError(
            status: 429, code: .rateLimited,
            message: "Rate limit reached for \(scope.label): \(ipm) images per minute (this request asks for \(asked)). Resets in \(wait) s.",
            retryAfterSeconds: wait
        )
    }

    public static func budget(_ scope: LimitScope, spent: Money, budget: Money, period: BudgetPeriod, worstCase: Money, now: Date) -> AfterimageError {
        let resets = period.end(containing: now)
        return AfterimageError(
            status: 429, code: .rateLimited,
            message: "Budget exhausted for \(scope.label): spent $\(spent.usdString) of $\(budget.usdString) this \(period.rawValue); "
                + "this request may cost up to $\(worstCase.usdString). Resets at \(DateText.format(resets)).",
            retryAfterSeconds: seconds(until: resets, from: now)
        )
    }

    /// Whole seconds from `now` until `date`, at least 1 (a `Retry-After` value).
    public static func seconds(until date: Date, from now: Date) -> Int {
        let interval = date.timeIntervalSince(now).rounded(.up)
        guard interval.isFinite, interval < Double(Int32.max) else { return Int(Int32.max) }
        return max(1, Int(interval))
    }
}
