import AfterimageCore
import Foundation
import Logging
import ServiceLifecycle

/// Raises alerts and sends each once to the webhooks subscribed to its event. Alerts and spend
/// notices arrive through a bounded inbox (a full inbox drops the newest, logged), so the request
/// path never waits; budgets are checked against the limiter's spend at most once a second per
/// scope, key expiry once an hour. Each alert is claimed in the database first (`AlertClaims`), so it goes
/// out once per key even across restarts and replicas.
public final class AlertCenter: Service, Sendable {
    /// A scope with a budget that just spent money.
    public struct SpendNotice: Sendable {
        public var scope: LimitScope
        public var limits: SpendLimits
        public init(scope: LimitScope, limits: SpendLimits) {
            self.scope = scope
            self.limits = limits
        }
    }


    /// Inbox capacity and the most deliveries in flight at once.
    public static let inboxCapacity = 1000
    public static let maxConcurrentDeliveries = 8
    /// Claims older than this are pruned (longer than any budget period).
    public static let claimRetention: TimeInterval = 400 * 86_400

    let settings: AlertSettings
    let claims: any AlertClaims
    let sender: WebhookSender
    let spent: @Sendable (LimitScope, BudgetPeriod, Date) async throws -> Money
    let keys: @Sendable () async throws -> [VirtualKey]
    let logger: Logger
    let inbox: AsyncStream<Alert>
    let continuation: AsyncStream<Alert>.Continuation
    /// Scopes that spent money since the last budget check (one entry per scope, bounded).
    let pending = PendingScopes()
    /// Keys of raised alerts whose claim this process recorded or is recording (taken or found taken):
    /// the database owns them from there — delivery, or redelivery from the kept text — so a
    /// budget threshold re-raised every second its scope spends costs no claim write each time.
    let recorded = RecordedKeys()
    let budgetInterval: Duration
    let expiryInterval: Duration
    let redeliveryInterval: Duration
    /// Undelivered alerts are sent again for this long after they were first raised.
    public static let redeliveryHorizon: TimeInterval = 3 * 86_400
    /// The most lapsed alerts sent again per round.
    public static let redeliveryBatch = 50

    /// `spent` answers what a scope spent in the budget period containing a date
    /// (`PeriodSpend`); `keys` lists the keys.
    public init(
        settings: AlertSettings, claims: any AlertClaims, sender: WebhookSender,
        spent: @escaping @Sendable (LimitScope, BudgetPeriod, Date) async throws -> Money,
        keys: @escaping @Sendable () async throws -> [VirtualKey], logger: Logger,
        budgetInterval: Duration = .seconds(1), expiryInterval: Duration = .seconds(3600), redeliveryInterval: Duration = .seconds(60)
    ) {
        self.settings = settings
        self.claims = claims
        self.sender = sender
        self.spent = spent
        self.keys = keys
        self.logger = logger
        (inbox, continuation) = AsyncStream.makeStream(of: Alert.self, bufferingPolicy: .bufferingOldest(Self.inboxCapacity))
        self.budgetInterval = budgetInterval
        self.expiryInterval = expiryInterval
        self.redeliveryInterval = redeliveryInterval
    }

    /// Whether any webhook wants `event` (callers skip building alerts nobody receives).
    public func wants(_ event: AlertEvent) -> Bool {
        settings.webhooks.contains { $0.events.contains(event) }
    }

    /// Queues an alert (sent once per `dedupKey`).
    public func raise(_ alert: Alert) {
        guard wants(alert.event) else { return }
        if case .dropped = continuation.yield(alert) {
            logger.warning("alert inbox full; alert dropped", metadata: ["event": .string(alert.event.rawValue)])
        }
    }

    /// Notes that scopes with a budget spent money; their budgets are checked within a second
    /// (one check per scope however many requests spent in between).
    public func spentMoney(_ scopes: [(LimitScope, SpendLimits)]) {
        guard wants(.budget) else { return }
        for (scope, limits) in scopes where limits.budget != nil {
            pending.add(SpendNotice(scope: scope, limits: limits))
        }
    }

    public func run() async throws {
        guard !settings.webhooks.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        // Until shutdown ends the inbox; then deliveries still in flight are cut off.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.expiryLoop() }
            group.addTask { await self.redeliveryLoop() }
            await withGracefulShutdownHandler {
                await self.deliverLoop()
            } onGracefulShutdown: {
                self.continuation.finish()
            }
            group.cancelAll()
        }
    }

    /// Takes alerts and claims and delivers them (at most `maxConcurrentDeliveries` at a time);
    /// alongside, the scopes that spent are checked every `budgetInterval`.
    func deliverLoop() async {
        await withTaskGroup(of: Void.self) { deliveries in
            deliveries.addTask { await self.budgetLoop() }
            var inFlight = 1
            for await alert in inbox {
                if inFlight >= Self.maxConcurrentDeliveries + 1 {
                    await deliveries.next()
                    inFlight -= 1
                }
                deliveries.addTask { await self.sendOnce(alert) }
                inFlight += 1
            }
            deliveries.cancelAll()
        }
    }

    /// A raised alert: sent unless this process already recorded (or is recording) its claim.
    func sendOnce(_ alert: Alert) async {
        let key = Self.claimKey(alert)
        guard recorded.insert(key) else { return }
        if await !send(alert) { recorded.remove(key) }
    }

    /// Claims and delivers `alert` (a lapsed one too: no memo); true once its claim is recorded.
    @discardableResult
    func send(_ alert: Alert) async -> Bool {
        await Self.send(alert, settings: settings, claims: claims, sender: sender, logger: logger)
    }

    static func claimKey(_ alert: Alert) -> String { "\(alert.event.rawValue):\(alert.dedupKey)" }

    /// Claims `alert` and, when it is new, delivers it to every webhook subscribed to its event
    /// (also used by CLI commands, which run no center). Returns whether the claim was recorded
    /// (taken here or held elsewhere), false when it could not be or no webhook takes the event.
    @discardableResult
    public static func send(_ alert: Alert, settings: AlertSettings, claims: any AlertClaims, sender: WebhookSender, logger: Logger) async -> Bool {
        let hooks = settings.webhooks.filter { $0.events.contains(alert.event) }
        guard !hooks.isEmpty else { return false }
        let key = claimKey(alert)
        do {
            let now = Date()
            guard try await claims.claim(key, alert: alert.storedText, raisedAt: min(alert.createdAt, now), now: now, lease: claimLease(hooks)) else { return true }
        } catch {
            logger.error("alert not sent: its claim could not be recorded", metadata: ["event": .string(alert.event.rawValue), "error": "\(LogText.bounded(String(describing: error), 300))"])
            return false
        }
        let delivered = await withTaskGroup(of: Bool.self) { group in
            for webhook in hooks {
                group.addTask { await sender.deliver(alert, to: webhook) != nil }
            }
            return await group.contains(true)
        }
        // Undelivered (every try of every webhook failed), the claim lapses after its lease and
        // the redelivery round sends the kept text again; so it does when the sender died here.
        guard delivered else { return true }
        do {
            try await claims.markDelivered(key, at: Date())
        } catch {
            logger.error("alert delivered but not marked; it may be sent again", metadata: ["event": .string(alert.event.rawValue), "error": "\(LogText.bounded(String(describing: error), 300))"])
        }
        return true
    }

    /// How long a claim holds off other senders: the slowest of `hooks`' deliveries and a minute.
    public static func claimLease(_ hooks: [AlertSettings.Webhook]) -> TimeInterval {
        (hooks.map(\.longestDelivery).max() ?? 0) + 60
    }

    func budgetLoop() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: budgetInterval) } catch { return }
            for notice in pending.take() {
                await checkBudget(notice, now: Date())
            }
        }
    }

    /// Raises one alert per threshold the scope's spend has reached this period.
    func checkBudget(_ notice: SpendNotice, now: Date) async {
        guard let budget = notice.limits.budget, budget.nanos > 0 else { return }
        let period = notice.limits.budgetPeriod
        let start = period.start(containing: now)
        let spent: Money
        do {
            spent = try await self.spent(notice.scope, period, now)
        } catch {
            logger.warning("budget alert check failed", metadata: ["scope": .string(notice.scope.storageKey), "error": "\(LogText.bounded(String(describing: error), 300))"])
            return
        }
        let percent = BudgetShare.percent(spent: spent, budget: budget)
        for threshold in settings.budgetThresholds where percent >= threshold {
            var fields: [String: JSONValue] = [
                "budget_usd": .string(budget.usdString), "spent_usd": .string(spent.usdString),
                "percent_used": .integer(Int64(min(percent, 1_000_000))), "threshold_percent": .integer(Int64(threshold)),
                "period": .string(period.rawValue), "period_start": .string(DateText.format(start)),
                "period_end": .string(DateText.format(period.end(containing: now))),
            ]
            switch notice.scope {
            case .key(let id, let name):
                fields["key_id"] = .string(id)
                fields["key_name"] = .string(name)
            case .namespace(let name):
                fields["namespace"] = .string(name)
            }
            raise(Alert(
                event: .budget,
                dedupKey: "\(notice.scope.storageKey):\(period.rawValue):\(DateText.format(start)):\(budget.nanos):\(threshold)",
                summary: "\(notice.scope.label) has used \(threshold)% of its \(period.rawValue)ly budget (\(spent.usdString) of \(budget.usdString) USD)",
                fields: fields, createdAt: now
            ))
        }
    }

    /// Every `redeliveryInterval`: alerts never marked delivered whose lease lapsed (their sender
    /// died, or every try failed) are sent again, for `redeliveryHorizon` after they were raised —
    /// without waiting for what raised them to happen again (a budget at 100% spends no more).
    func redeliveryLoop() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: redeliveryInterval) } catch { return }
            await redeliverLapsed(now: Date())
        }
    }

    /// One round of `redeliveryLoop`; returns how many lapsed claims it took up.
    @discardableResult
    public func redeliverLapsed(now: Date) async -> Int {
        // The longest lease any webhook's alerts are claimed with: never a claim a live sender holds.
        let lease = Self.claimLease(settings.webhooks)
        let lapsed: [(key: String, alert: String)]
        do {
            lapsed = try await claims.lapsed(now: now, lease: lease, raisedSince: now.addingTimeInterval(-Self.redeliveryHorizon), limit: Self.redeliveryBatch)
        } catch {
            logger.warning("lapsed alerts not read", metadata: ["error": "\(LogText.bounded(String(describing: error), 300))"])
            return 0
        }
        for (key, text) in lapsed {
            if let alert = Alert(storedText: text), wants(alert.event) {
                await send(alert)
            } else {
                // Unreadable, or no webhook takes its event any more: its lease starts again, so
                // it waits behind the others instead of taking a place in every round.
                _ = try? await claims.claim(key, now: now, lease: lease)
            }
        }
        return lapsed.count
    }

    /// At start and every `expiryInterval`: old claims pruned (whatever the events, so the
    /// claims table stays bounded) and keys expiring within `key_expiry_days` announced.
    func expiryLoop() async {
        let announceExpiry = settings.keyExpiryDays > 0 && wants(.keyExpiry)
        while !Task.isCancelled {
            try? await claims.prune(before: Date().addingTimeInterval(-Self.claimRetention))
            if announceExpiry { await checkExpiry(now: Date()) }
            do { try await Task.sleep(for: expiryInterval) } catch { return }
        }
    }

    func checkExpiry(now: Date) async {
        let horizon = now.addingTimeInterval(TimeInterval(settings.keyExpiryDays) * 86_400)
        let list: [VirtualKey]
        do {
            list = try await keys()
        } catch {
            logger.warning("key expiry check failed", metadata: ["error": "\(LogText.bounded(String(describing: error), 300))"])
            return
        }
        for key in list where key.revokedAt == nil {
            guard let expiresAt = key.expiresAt, expiresAt > now, expiresAt <= horizon else { continue }
            let days = Int((expiresAt.timeIntervalSince(now) / 86_400).rounded(.up))
            raise(Alert(
                event: .keyExpiry, dedupKey: "\(key.id):\(DateText.format(expiresAt))",
                summary: "key '\(key.name)' expires in \(days) day\(days == 1 ? "" : "s") (\(DateText.format(expiresAt)))",
                fields: [
                    "key_id": .string(key.id), "key_name": .string(key.name), "namespace": .string(key.namespace),
                    "expires_at": .string(DateText.format(expiresAt)), "days_left": .integer(Int64(days)),
                ],
                createdAt: now
            ))
        }
    }
}

/// Claim keys this process recorded, bounded (full: forgotten at once; the claims still dedupe).
final class RecordedKeys: @unchecked Sendable {
    static let capacity = 10_000
    private let lock = NSLock()
    private var keys = Set<String>()

    /// False when `key` was already there.
    func insert(_ key: String) -> Bool {
        lock.withLock {
            if keys.count >= Self.capacity { keys.removeAll(keepingCapacity: true) }
            return keys.insert(key).inserted
        }
    }

    func remove(_ key: String) {
        _ = lock.withLock { keys.remove(key) }
    }
}

/// Scopes waiting for a budget check, one entry per scope (the latest limits), bounded.
final class PendingScopes: @unchecked Sendable {
    static let capacity = 10_000
    private let lock = NSLock()
    private var scopes: [String: AlertCenter.SpendNotice] = [:]

    func add(_ notice: AlertCenter.SpendNotice) {
        lock.withLock {
            if scopes[notice.scope.storageKey] != nil || scopes.count < Self.capacity {
                scopes[notice.scope.storageKey] = notice
            }
        }
    }

    func take() -> [AlertCenter.SpendNotice] {
        lock.withLock {
            defer { scopes.removeAll(keepingCapacity: true) }
            return Array(scopes.values)
        }
    }
}

/// Spend as a whole percentage of a budget, without overflow.
enum BudgetShare {
    static func percent(spent: Money, budget: Money) -> Int {
        guard budget.nanos > 0, spent.nanos > 0 else { return 0 }
        let (scaled, overflow) = spent.nanos.multipliedReportingOverflow(by: 100)
        if overflow { return Int.max }
        return Int(scaled / budget.nanos)
    }
}
