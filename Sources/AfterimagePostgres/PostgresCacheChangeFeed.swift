import AfterimageCore
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// `CacheChangeFeed` on PostgreSQL: the `cache_changes` table written by a trigger on
/// `cache_entries`, and a `LISTEN` on its notification channel that wakes the follower at once.
/// The listener is a `Service`: it holds one pooled connection and reconnects with backoff, and a
/// notification lost meanwhile costs at most one polling interval (the follower also polls).
public final class PostgresCacheChangeFeed: CacheChangeFeed, Service {
    static let channel = "afterimage_cache_changes"
    let database: PostgresBackend
    private let signal = Mutex<(pending: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    public init(database: PostgresBackend) {
        self.database = database
    }

    public func position() async throws -> Int64 {
        let rows = try await database.query("SELECT COALESCE(MAX(seq), 0)::bigint FROM cache_changes")
        for try await value in rows.decode(Int64.self) { return value }
        return 0
    }

    public func changes(after position: Int64, gaps: [Int64], limit: Int) async throws -> [CacheChange]? {
        let pruned = try await database.query("SELECT upto FROM cache_changes_pruned")
        for try await upto in pruned.decode(Int64.self) where upto > position { return nil }
        let rows = try await database.query(
            """
            SELECT c.seq, c.op, c.entry_id, c.namespace, c.partition_key, e.embedding
            FROM cache_changes c LEFT JOIN cache_entries e ON c.op = 'i' AND e.id = c.entry_id
            WHERE c.seq > \(position) OR c.seq = ANY(\(gaps)::bigint[])
            ORDER BY c.seq LIMIT \(Int64(max(1, limit)))
            """)
        var changes = [CacheChange]()
        for try await (seq, op, id, namespace, partition, embedding) in rows.decode((Int64, String, Int64, String, String, Data?).self) {
            changes.append(CacheChange(
                seq: seq, kind: op == "i" ? .insert : .delete, ref: CacheEntryRef(id: id, namespace: namespace, partitionKey: partition),
                embedding: embedding.map(EmbeddingBlob.decode)
            ))
        }
        return changes
    }

    public func prune(olderThan cutoff: Date) async throws {
        try await database.query(
            """
            WITH gone AS (DELETE FROM cache_changes WHERE at < \(cutoff) RETURNING seq)
            UPDATE cache_changes_pruned SET upto = GREATEST(upto, (SELECT MAX(seq) FROM gone)) WHERE EXISTS (SELECT 1 FROM gone)
            """)
    }

    public func waitForChange(timeout: Duration) async {
        let ready = signal.withLock { state -> Bool in
            if state.pending {
                state.pending = false
                return true
            }
            return false
        }
        if ready { return }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.wake(markPending: false)
        }
        await withCheckedContinuation { continuation in
            let resumeNow = signal.withLock { state -> Bool in
                if state.pending {
                    state.pending = false
                    return true
                }
                state.waiter?.resume()
                state.waiter = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
        timer.cancel()
    }

    /// Resumes the waiter, or remembers the change for the next wait.
    func wake(markPending: Bool) {
        let waiter = signal.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            if markPending { state.pending = true }
            return nil
        }
        waiter?.resume()
    }

    /// Listens for notifications until shutdown, reconnecting with backoff (0.1 s doubling to 5 s;
    /// back to 0.1 s once a connection listened).
    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.listen() }
        wake(markPending: false)
    }

    private func listen() async {
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled {
            let listened = Atomic<Bool>(false)
            do {
                try await database.client.withConnection { connection in
                    try await connection.listen(on: Self.channel) { notifications in
                        // Listening now: anything committed before was missed, so catch up.
                        listened.store(true, ordering: .relaxed)
                        self.wake(markPending: true)
                        for try await _ in notifications { self.wake(markPending: true) }
                    }
                }
            } catch {
                if Task.isCancelled { break }
                database.logger.warning("cache change listener lost its connection; retrying", metadata: ["error": "\(String(describing: error).prefix(200))"])
            }
            if listened.load(ordering: .relaxed) { backoff = .milliseconds(100) }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
    }
}
