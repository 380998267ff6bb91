import AfterimageCore
import Foundation
import Synchronization

/// Rate limits and spend budgets of keys and namespaces, enforced in this process (one server
/// per data directory; replicas on PostgreSQL use `PostgresSpendLimiter` instead).
///
/// Rate limits count requests and requested images in a sliding minute. Budgets never overspend
/// under concurrency: a request reserves its worst-case cost before it goes upstream and settles
/// to its real cost afterwards; one that would fit only once in-flight requests settle waits for
/// them, and one that cannot fit even then is refused. Spend per period is loaded from the ledger
/// the first time a scope is seen (and when its period rolls over), then kept in memory.
public actor LimitEnforcer: SpendLimiter {
    public typealias Scope = LimitScope
    public typealias Reservation = BudgetReservation

    struct Budget {
        var periodStart: Date
        var spent: Money
        var reserved = Money.zero
        /// The budget as last seen (limits may change at run time).
        var limit: Money?
    }

    /// Requests and images per scope in the last minute. Behind a lock rather than the actor:
    /// every request is admitted (hits too), and a check this short is cheaper than an actor hop.
    private struct RateWindows {
        var requests: [Scope: [Date]] = [:]
        var images: [Scope: [(at: Date, count: Int)]] = [:]
    }

    let ledger: any UsageLedger
    private let rates = Mutex(RateWindows())
    private var budgets: [Scope: Budget] = [:]
    private var loading: [Scope: Task<Money, any Error>] = [:]
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(ledger: any UsageLedger) {
        self.ledger = ledger
    }

    /// Counts a request of `imageCount` images against each scope's per-minute limits, or throws
    /// 429 naming the limit, with `Retry-After` until a slot frees.
    /// With `countsRequest` false only the images are checked and counted (the request was
    /// admitted earlier, before its body was read).
    public nonisolated func admit(_ scopes: [(Scope, SpendLimits)], imageCount: Int, countsRequest: Bool = true, now: Date = Date()) throws {
        try rates.withLock { windows in try Self.admit(scopes, imageCount: imageCount, countsRequest: countsRequest, now: now, into: &windows) }
    }

    private static func admit(
        _ scopes: [(Scope, SpendLimits)], imageCount: Int, countsRequest: Bool, now: Date, into windows: inout RateWindows
    ) throws {
        let windowStart = now.addingTimeInterval(-60)
        for (scope, limits) in scopes {
            windows.requests[scope]?.removeAll { $0 <= windowStart }
            windows.images[scope]?.removeAll { $0.at <= windowStart }
            if countsRequest, let rpm = limits.requestsPerMinute, let times = windows.requests[scope], times.count >= rpm {
                throw LimitRefusal.requests(scope, rpm: rpm, wait: Self.seconds(until: times[times.count - rpm].addingTimeInterval(60), from: now))
            }
            if let ipm = limits.imagesPerMinute {
                let events = windows.images[scope] ?? []
                var used = events.reduce(0) { $0 + $1.count }
                if used + imageCount > ipm {
                    // Wait until enough old events leave the window.
                    var freeAt = now
                    for event in events where used + imageCount > ipm {
                        used -= event.count
                        freeAt = event.at.addingTimeInterval(60)
                    }
                    throw LimitRefusal.images(scope, ipm: ipm, asked: imageCount, wait: Self.seconds(until: freeAt, from: now))
                }
            }
        }
        for (scope, limits) in scopes {
            if countsRequest, limits.requestsPerMinute != nil { windows.requests[scope, default: []].append(now) }
            if imageCount > 0, limits.imagesPerMinute != nil { windows.images[scope, default: []].append((now, imageCount)) }
        }
    }

    /// Reserves `worstCase` in every scope that has a budget; waits while in-flight reservations
    /// could still free enough; throws 429 when the budget cannot cover it.
    public func reserve(_ scopes: [(Scope, SpendLimits)], worstCase: Money, now: Date = Date()) async throws -> Reservation {
        let budgeted = scopes.filter { $0.1.budget != nil }
        guard !budgeted.isEmpty else { return Reservation(holds: []) }
        while true {
            for (scope, limits) in budgeted { try await load(scope, period: limits.budgetPeriod, now: now) }
            var mustWait = false
            for (scope, limits) in budgeted {
                guard let budget = limits.budget, let state = budgets[scope] else { continue }
                if state.spent + worstCase > budget {
                    throw LimitRefusal.budget(scope, spent: state.spent, budget: budget, period: limits.budgetPeriod, worstCase: worstCase, now: now)
                }
                if state.spent + state.reserved + worstCase > budget { mustWait = true }
            }
            if !mustWait { break }
            await withCheckedContinuation { waiters.append($0) }
        }
        var holds = [Reservation.Hold]()
        for (scope, limits) in budgeted {
            guard var state = budgets[scope] else { continue }
            state.reserved += worstCase
            state.limit = limits.budget
            budgets[scope] = state
            holds.append(.init(scope: scope, period: state.periodStart, amount: worstCase))
        }
        return Reservation(holds: holds)
    }

    /// Releases the hold and adds what the request really cost (nil or zero for failures).
    public func settle(_ reservation: Reservation, actual: Money?) {
        for hold in reservation.holds {
            guard var state = budgets[hold.scope] else { continue }
            if state.periodStart == hold.period { state.reserved = state.reserved - hold.amount }
            state.spent += actual ?? .zero
            budgets[hold.scope] = state
        }
        let resumed = waiters
        waiters.removeAll()
        for waiter in resumed { waiter.resume() }
    }

    /// Budget left this period per key, for the keys with a budget seen since startup.
    public func remainingByKey() -> [(keyID: String, remaining: Money)] {
        budgets.compactMap { scope, state in
            guard case .key(let id, _) = scope, let limit = state.limit else { return nil }
            return (id, limit - state.spent)
        }
    }

    public func periodSpend(_ scope: Scope, period: BudgetPeriod, now: Date) -> Money? {
        guard let state = budgets[scope], state.periodStart == period.start(containing: now) else { return nil }
        return state.spent
    }

    /// Loads a scope's spend for the current period from the ledger (once; again after a rollover).
    private func load(_ scope: Scope, period: BudgetPeriod, now: Date) async throws {
        let start = period.start(containing: now)
        if let state = budgets[scope], state.periodStart == start { return }
        let task: Task<Money, any Error>
        if let running = loading[scope] {
            task = running
        } else {
            let ledger = ledger
            task = Task {
                switch scope {
                case .key(let id, _): return try await ledger.spent(keyID: id, namespace: nil, since: start)
                case .namespace(let name): return try await ledger.spent(keyID: nil, namespace: name, since: start)
                }
            }
            loading[scope] = task
        }
        let spent = try await task.value
        loading[scope] = nil
        if budgets[scope]?.periodStart != start { budgets[scope] = Budget(periodStart: start, spent: spent) }
    }

    static func seconds(until date: Date, from now: Date) -> Int {
        LimitRefusal.seconds(until: date, from: now)
    }
}
