import AfterimageCache
import AfterimageCore
import Foundation

/// Cluster-wide single-flight (PostgreSQL replicas): of identical misses on several replicas, the
/// one holding the flight claim calls upstream; the others wait for it to release the claim and
/// serve what it stored as a direct hit. In one process `inFlight` alone does this.
extension ImagePipeline {
    /// What a shared miss produced: this process's own upstream answer, or another replica's
    /// stored one.
    enum FlightResult: Sendable {
        case forwarded(MissResult)
        case cached(CacheEntry)
    }

    func forwardOnce(_ plan: Plan, lookup: CacheLookup, attempts: AttemptLog, key: String, ledger: LedgerDraft?) async throws -> FlightResult {
        guard let flights else { return .forwarded(try await forward(plan, lookup: lookup, attempts: attempts, ledger: ledger)) }
        let clock = ContinuousClock()
        let deadline = clock.now + flightMaxWait
        while clock.now < deadline {
            if let claim = try await flights.claim(key, lease: flightLease) {
                let lease = flightLease
                // Renewed while the call runs, so a slow upstream is not mistaken for a dead owner.
                let renewal = Task {
                    while !Task.isCancelled {
                        try await Task.sleep(for: lease / 3)
                        _ = try? await flights.renew(claim, lease: lease)
                    }
                }
                defer { renewal.cancel() }
                do {
                    let miss = try await forward(plan, lookup: lookup, attempts: attempts, ledger: ledger)
                    renewal.cancel()
                    await flights.release(claim)
                    return .forwarded(miss)
                } catch {
                    renewal.cancel()
                    await flights.release(claim)
                    throw error
                }
            }
            // Another replica is calling upstream for this request: wait, then read its answer.
            _ = try await flights.waitUntilFree(key, timeout: min(flightLease, deadline - clock.now))
            if let cache, let entry = try await cache.lookupDirect(namespace: lookup.namespace, partitionKey: lookup.partitionKey, directKey: lookup.directKey) {
                return .cached(entry)
            }
            // Nothing stored: the owner failed or died; claim it (the loop) and call ourselves.
        }
        return .forwarded(try await forward(plan, lookup: lookup, attempts: attempts, ledger: ledger))
    }
}
