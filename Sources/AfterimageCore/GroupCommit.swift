/// Group commit for durable rows: rows that arrive while a batch is being written wait and go
/// together in the next one (one transaction or multi-row insert for many requests), and
/// `submit` returns only once its own row's batch is committed, or throws its error.
public actor GroupCommit<Row: Sendable> {
    private var pending: [(row: Row, done: CheckedContinuation<Void, any Error>)] = []
    private var flushing = false
    private let maxBatch: Int
    private let write: @Sendable ([Row]) async throws -> Void

    /// `write` commits one batch of at most `maxBatch` rows.
    public init(maxBatch: Int = 1000, write: @escaping @Sendable ([Row]) async throws -> Void) {
        self.maxBatch = max(1, maxBatch)
        self.write = write
    }

    public func submit(_ row: Row) async throws {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            pending.append((row, done))
            if !flushing {
                flushing = true
                Task { await self.flush() }
            }
        }
    }

    private func flush() async {
        while !pending.isEmpty {
            let batch = Array(pending.prefix(maxBatch))
            pending.removeFirst(batch.count)
            do {
                try await write(batch.map(\.row))
                for item in batch { item.done.resume() }
            } catch {
                for item in batch { item.done.resume(throwing: error) }
            }
        }
        flushing = false
    }
}
