import AfterimageCore
import AfterimageMetering
import Foundation
import Synchronization
import Testing

/// Namespace limits read per request come from memory for a moment; changes made through the
/// cache apply at once; a flood of namespaces cannot grow it.
@Suite struct CachedNamespaceLimitsTests {
    final class CountingStore: NamespaceLimitStore {
        let reads = Atomic<Int>(0)
        let stored = Mutex<[String: SpendLimits]>([:])
        func limits(namespace: String) async throws -> SpendLimits {
            reads.wrappingAdd(1, ordering: .relaxed)
            return stored.withLock { $0[namespace] ?? SpendLimits() }
        }
        func update(namespace: String, changes: LimitChanges) async throws -> SpendLimits {
            stored.withLock { stored in
                var limits = stored[namespace] ?? SpendLimits()
                changes.apply(to: &limits)
                stored[namespace] = limits
                return limits
            }
        }
        func list() async throws -> [(namespace: String, limits: SpendLimits)] { stored.withLock { $0.map { ($0.key, $0.value) } } }
    }

    @Test func readsAreRememberedAndChangesApplyAtOnce() async throws {
        let base = CountingStore()
        let cached = CachedNamespaceLimits(base, lifetime: .seconds(60))
        for _ in 0..<10 { _ = try await cached.limits(namespace: "team") }
        #expect(base.reads.load(ordering: .relaxed) == 1)
        var changes = LimitChanges()
        changes.requestsPerMinute = .some(7)
        _ = try await cached.update(namespace: "team", changes: changes)
        #expect(try await cached.limits(namespace: "team").requestsPerMinute == 7)
    }

    @Test func aFloodOfNamespacesStaysBounded() async throws {
        let base = CountingStore()
        let cached = CachedNamespaceLimits(base, lifetime: .seconds(60), capacity: 50)
        for index in 0..<5_000 { _ = try await cached.limits(namespace: "ns-\(index)") }
        #expect(base.reads.load(ordering: .relaxed) == 5_000)
        _ = try await cached.limits(namespace: "ns-4999")
        #expect(base.reads.load(ordering: .relaxed) == 5_000, "the newest namespaces are still remembered")
        #expect(CachedNamespaceLimits(base, capacity: -1).capacity == 1)
    }
}
