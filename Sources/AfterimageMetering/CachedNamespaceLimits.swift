import AfterimageCore
import Foundation
import Synchronization

/// Namespace limits as the request path reads them: from memory for up to `lifetime` after they
/// were read (every request needs them; they change rarely). Changes made through this store
/// (the admin API) apply at once; changes by another process (the CLI) within `lifetime`.
/// At most `capacity` namespaces are remembered (a flood of namespaces cannot grow memory).
public final class CachedNamespaceLimits: NamespaceLimitStore {
    public let base: any NamespaceLimitStore
    public let lifetime: Duration
    public let capacity: Int
    private let remembered = Mutex<[String: (limits: SpendLimits, readAt: ContinuousClock.Instant)]>([:])

    public init(_ base: any NamespaceLimitStore, lifetime: Duration = .seconds(1), capacity: Int = 10_000) {
        self.base = base
        self.lifetime = lifetime
        self.capacity = max(1, capacity)
    }

    public func limits(namespace: String) async throws -> SpendLimits {
        let now = ContinuousClock.now
        if let known = remembered.withLock({ $0[namespace] }), now - known.readAt < lifetime { return known.limits }
        let limits = try await base.limits(namespace: namespace)
        remembered.withLock { all in
            if all.count >= capacity { all.removeAll(keepingCapacity: true) }
            all[namespace] = (limits, now)
        }
        return limits
    }

    public func update(namespace: String, changes: LimitChanges) async throws -> SpendLimits {
        let limits = try await base.update(namespace: namespace, changes: changes)
        remembered.withLock { $0[namespace] = nil }
        return limits
    }

    public func list() async throws -> [(namespace: String, limits: SpendLimits)] {
        try await base.list()
    }
}
