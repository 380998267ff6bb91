import AfterimageCore
import Foundation
import Synchronization

/// Hit counters (LRU time, per-entry and per-namespace counts, images' last use) written in
/// batches: a hit's response never waits for a write of its own. Pending hits are flushed in one
/// transaction `delay` after the first one, when `maxPending` are waiting, and before anything
/// reads or depends on the counters (stats, eviction, sweeps, purges, shutdown). A crash loses at
/// most the last `delay` of hit counts — statistics, never a ledger row.
final class HitRecorder: Sendable {
    private struct State {
        var pending: [CacheHit] = []
        var flushScheduled = false
        /// Hits dropped because the store kept failing while `maxPending` were waiting.
        var dropped = 0
    }

    private let state = Mutex(State())
    private let store: any CacheStore
    let delay: Duration
    let maxPending: Int

    init(store: any CacheStore, delay: Duration = .milliseconds(20), maxPending: Int = 1_024) {
        self.store = store
        self.delay = delay
        self.maxPending = max(1, maxPending)
    }

    /// Queues a hit; schedules a flush if none is scheduled.
    func record(_ hit: CacheHit) {
        let (schedule, full) = state.withLock { state -> (Bool, Bool) in
            if state.pending.count >= maxPending * 4 {
                // The store has not kept up for a while: bound the memory, count the loss.
                state.dropped += 1
                return (false, false)
            }
            state.pending.append(hit)
            let schedule = !state.flushScheduled
            state.flushScheduled = true
            return (schedule, state.pending.count >= maxPending)
        }
        if full {
            Task { await self.flush() }
        } else if schedule {
            Task {
                try? await Task.sleep(for: delay)
                await self.flush()
            }
        }
    }

    /// Writes every pending hit now (one transaction). On a store error the hits are put back
    /// for the next flush.
    func flush() async {
        let hits = state.withLock { state -> [CacheHit] in
            state.flushScheduled = false
            defer { state.pending.removeAll(keepingCapacity: true) }
            return state.pending
        }
        guard !hits.isEmpty else { return }
        do {
            try await store.recordHits(hits)
        } catch {
            let reschedule = state.withLock { state -> Bool in
                state.pending.insert(contentsOf: hits, at: 0)
                let reschedule = !state.flushScheduled
                state.flushScheduled = true
                return reschedule
            }
            if reschedule {
                Task {
                    try? await Task.sleep(for: .seconds(1))
                    await self.flush()
                }
            }
        }
    }

    /// Hits waiting to be written, and hits dropped so far.
    var backlog: (pending: Int, dropped: Int) { state.withLock { ($0.pending.count, $0.dropped) } }
}
