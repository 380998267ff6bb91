import ServiceLifecycle
import Synchronization

/// Hands a streamed answer to exactly one consumer (the response body writer or the watchdog).
final class StreamClaim: Sendable {
    private let taken = Atomic<Bool>(false)

    /// True for the first caller only.
    func take() -> Bool { !taken.exchange(true, ordering: .acquiringAndReleasing) }

    /// Whether a consumer has it (the watchdog can then forget it).
    var isTaken: Bool { taken.load(ordering: .acquiring) }
}

/// Streamed misses whose response body never started (the client left before the head went
/// out): after a grace period the watchdog claims each one and runs its `finish` (read or cancel
/// the upstream, write the ledger row, settle the budget), so nothing is lost or left reserved.
/// A service in the server's group: its work runs in its own task group, and at shutdown every
/// stream still waiting is finished before the group ends.
final class StreamWatchdog: Service, Sendable {
    struct Watched: Sendable {
        var deadline: ContinuousClock.Instant
        var claim: StreamClaim
        var finish: @Sendable () async -> Void
    }

    let grace: Duration
    let tick: Duration
    private let watched = Mutex<[Watched]>([])

    init(grace: Duration = .seconds(10), tick: Duration = .milliseconds(500)) {
        self.grace = grace
        self.tick = tick
    }

    /// Watches a stream: `finish` runs after the grace period unless its body writer claimed it first.
    func watch(_ claim: StreamClaim, finish: @escaping @Sendable () async -> Void) {
        watched.withLock { $0.append(Watched(deadline: .now + grace, claim: claim, finish: finish)) }
    }

    /// The streams due (or all, at shutdown) that nobody claimed; the rest stay watched.
    func due(all: Bool) -> [Watched] {
        let now = ContinuousClock.now
        return watched.withLock { watched in
            var due = [Watched]()
            watched.removeAll { item in
                guard all || item.deadline <= now || item.claim.isTaken else { return false }
                if item.claim.take() { due.append(item) }
                return true
            }
            return due
        }
    }

    func run() async throws {
        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully, !Task.isCancelled {
                try? await Task.sleep(for: tick)
                for item in due(all: false) { group.addTask { await item.finish() } }
            }
            for item in due(all: true) { group.addTask { await item.finish() } }
        }
    }
}
