import AfterimageCore
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// `SpendLimiter` shared by every replica: per-minute counters, budget spend and in-flight holds
/// are rows in PostgreSQL, checked and changed atomically by one function call per step
/// (`afterimage_admit`, `afterimage_reserve`, `afterimage_settle`), so N replicas together never
/// exceed a limit or overspend. As a `Service` it removes old events and long-expired holds.
public final class PostgresSpendLimiter: SpendLimiter, Service {
    let database: PostgresBackend
    /// How long a hold counts without being settled (a replica that died holding it).
    let leaseSeconds: Int
    /// How long a request waits for in-flight holds to settle before it is refused.
    let maxWait: Duration
    /// Budget and spend last seen per key (gauges only); bounded.
    private let seen = Mutex<[String: (limit: Money, spent: Money)]>([:])
    static let maxSeenKeys = 10_000

    public init(database: PostgresBackend, leaseSeconds: Int = 900, maxWait: Duration = .seconds(60)) {
        self.database = database
        self.leaseSeconds = max(1, leaseSeconds)
        self.maxWait = maxWait
    }

    public func admit(_ scopes: [(LimitScope, SpendLimits)], imageCount: Int, countsRequest: Bool, now: Date) async throws {
        let limited = scopes.filter { (countsRequest && $0.1.requestsPerMinute != nil) || (imageCount > 0 && $0.1.imagesPerMinute != nil) }
        guard !limited.isEmpty else { return }
        let rpm = limited.map { Int32(clamping: $0.1.requestsPerMinute ?? -1) }
        let ipm = limited.map { Int32(clamping: $0.1.imagesPerMinute ?? -1) }
        let rows = try await database.query(
            """
            SELECT refused, kind, retry_seconds FROM afterimage_admit(\(limited.map(\.0.storageKey)), \(rpm), \(ipm),
                \(Int32(clamping: imageCount)), \(countsRequest))
            """)
        for try await (index, kind, wait) in rows.decode((Int32, String, Int32).self) {
            let position = Int(index) - 1
            guard limited.indices.contains(position) else { continue }
            let (scope, limits) = limited[position]
            if kind == "requests", let limit = limits.requestsPerMinute { throw LimitRefusal.requests(scope, rpm: limit, wait: Int(wait)) }
            throw LimitRefusal.images(scope, ipm: limits.imagesPerMinute ?? 0, asked: imageCount, wait: Int(wait))
        }
    }

    public func reserve(_ scopes: [(LimitScope, SpendLimits)], worstCase: Money, now: Date) async throws -> BudgetReservation {
        let budgeted = scopes.compactMap { scope, limits in limits.budget.map { (scope, limits, $0) } }
        guard !budgeted.isEmpty else { return BudgetReservation(holds: []) }
        let keyIDs = budgeted.map { scope, _, _ in if case .key(let id, _) = scope { id } else { "" } }
        let namespaces = budgeted.map { scope, _, _ in if case .namespace(let name) = scope { name } else { "" } }
        let periods = budgeted.map { $0.1.budgetPeriod.start(containing: now) }
        let clock = ContinuousClock()
        let deadline = clock.now + maxWait
        var pause = Duration.milliseconds(20)
        while true {
            let rows = try await database.query(
                """
                SELECT outcome, refused, spent, hold_ids, spents FROM afterimage_reserve(\(budgeted.map(\.0.storageKey)), \(keyIDs), \(namespaces),
                    \(budgeted.map(\.2.nanos)), \(periods), \(worstCase.nanos), \(Int32(clamping: leaseSeconds)))
                """)
            var outcome = ("", Int32(0), Int64(0), [Int64]())
            var spents = [Int64]()
            for try await (status, index, spent, ids, before) in rows.decode((String, Int32, Int64, [Int64]?, [Int64]?).self) {
                outcome = (status, index, spent, ids ?? [])
                spents = before ?? []
            }
            remember(zip(budgeted, spents).map { ($0.0.0, $0.0.2, Money(nanos: $0.1)) })
            switch outcome.0 {
            case "held":
                return BudgetReservation(holds: zip(budgeted, zip(periods, outcome.3)).map { item, hold in
                    BudgetReservation.Hold(scope: item.0, period: hold.0, amount: worstCase, id: hold.1)
                })
            case "exhausted":
                let position = Int(outcome.1) - 1
                guard budgeted.indices.contains(position) else { throw StorageAnswer.unexpected }
                let (scope, limits, budget) = budgeted[position]
                throw LimitRefusal.budget(scope, spent: Money(nanos: outcome.2), budget: budget, period: limits.budgetPeriod, worstCase: worstCase, now: now)
            case "wait":
                // In-flight requests hold the rest: wait for them to settle (or their leases to end).
                guard clock.now + pause < deadline else {
                    let (scope, _, _) = budgeted[max(0, min(budgeted.count - 1, Int(outcome.1) - 1))]
                    throw AfterimageError(
                        status: 429, code: .rateLimited,
                        message: "Budget for \(scope.label) is held by requests in flight; try again shortly.", retryAfterSeconds: 5
                    )
                }
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .milliseconds(500))
            default:
                throw StorageAnswer.unexpected
            }
        }
    }

    public func settle(_ reservation: BudgetReservation, actual: Money?) async {
        let ids = reservation.holds.compactMap(\.id)
        guard !ids.isEmpty else { return }
        do {
            try await database.query("SELECT afterimage_settle(\(ids), \((actual ?? .zero).nanos))")
            let added = actual ?? .zero
            seen.withLock { seen in
                for hold in reservation.holds {
                    guard case .key(let id, _) = hold.scope, let known = seen[id] else { continue }
                    seen[id] = (known.limit, known.spent + added)
                }
            }
        } catch {
            // The hold's lease ends it; the spend is still in the ledger (seeded again next period).
            database.logger.error("budget settle failed; the hold lapses with its lease", metadata: ["error": "\(String(describing: error).prefix(200))"])
        }
    }

    public func remainingByKey() async -> [(keyID: String, remaining: Money)] {
        seen.withLock { $0.map { ($0.key, $0.value.limit - $0.value.spent) } }
    }

    public func periodSpend(_ scope: LimitScope, period: BudgetPeriod, now: Date) async throws -> Money? {
        let rows = try await database.query(
            "SELECT spent_nanos FROM budget_spend WHERE scope = \(scope.storageKey) AND period_start = \(period.start(containing: now))"
        )
        for try await nanos in rows.decode(Int64.self) { return Money(nanos: nanos) }
        return nil
    }

    /// Notes each key's budget and its spend as the database just reported it (bounded).
    private func remember(_ budgets: [(LimitScope, Money, Money)]) {
        seen.withLock { seen in
            for (scope, limit, spent) in budgets {
                guard case .key(let id, _) = scope else { continue }
                if seen[id] == nil, seen.count >= Self.maxSeenKeys { continue }
                seen[id] = (limit, spent)
            }
        }
    }

    /// Once a minute: drops limit events older than the window and holds whose lease ended a day ago.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await Task.sleep(for: .seconds(60)) } catch { return }
                do {
                    try await self.database.query("DELETE FROM limit_events WHERE at < now() - interval '2 minutes'")
                    try await self.database.query("DELETE FROM budget_holds WHERE expires_at < now() - interval '1 day'")
                } catch {
                    self.database.logger.warning("limit cleanup failed", metadata: ["error": "\(String(describing: error).prefix(200))"])
                }
            }
        }
    }
}

/// The database answered something the code does not expect (a schema from another version).
enum StorageAnswer: Error {
    case unexpected
}
