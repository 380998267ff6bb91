import Synchronization

/// Group commit for durable rows: rows that arrive while a batch is being written wait and go
/// together in the next one (one transaction or multi-row insert for many requests), and
/// `submit` returns only once its own row's batch is committed, or throws its error.
///
/// A lock, not an actor: every request submits one row (hits too), and appending under a lock
/// costs less than hopping onto an actor's executor and back.
public final class GroupCommit<Row: Sendable>: Sendable {
    private struct State {
        var pending: [(row: Row, done: CheckedContinuation<Void, any Error>)] = []
        var flushing = false
    }

    private let state = Mutex(State())
    private let maxBatch: Int
    private let write: @Sendable ([Row]) async throws -> Void

    /// `write` commits one batch of at most `maxBatch` rows.
    public init(maxBatch: Int = 1000, write: @escaping @Sendable ([Row]) async throws -> Void) {
        self.maxBatch = max(1, maxBatch)
        self.write = write
    }

    public func submit(_ row: Row) async throws {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            let startFlush = state.withLock { state -> Bool in
                state.pending.append((row, done))
                guard !state.flushing else { return false }
                state.flushing = true
                return true
            }
            if startFlush { Task { await self.flush() } }
        }
    }

    /// Writes batches until nothing is pending (one flush runs at a time).
    private func flush() async {
        while true {
            let batch = state.withLock { state -> [(row: Row, done: CheckedContinuation<Void, any Error>)] in
                guard !state.pending.isEmpty else {
                    state.flushing = false
                    return []
                }
                let batch = Array(state.pending.prefix(maxBatch))
                state.pending.removeFirst(batch.count)
                return batch
            }
            if batch.isEmpty { return }
            do {
                try await write(batch.map(\.row))
                for item in batch { item.done.resume() }
            } catch {
                for item in batch { item.done.resume(throwing: error) }
            }
        }
    }
}
