import AfterimageCore
import Foundation
import Logging
import PostgresNIO

/// Size limits, expiry, purges and stats of `cache_entries` on PostgreSQL. Deletes cascade to the
/// image links; the images themselves go when the blob sweeper finds them unreferenced.
extension PostgresCacheStore {
    public func totals(now: Date) async throws -> CacheTotals {
        let rows = try await database.query(
            "SELECT COUNT(*), COALESCE(SUM(byte_count), 0)::bigint FROM cache_entries WHERE expires_at > \(now)")
        for try await (entries, bytes) in rows.decode((Int64, Int64).self) {
            return CacheTotals(entries: Int(clamping: entries), bytes: Int(clamping: bytes))
        }
        return CacheTotals(entries: 0, bytes: 0)
    }

    public func evict(maxEntries: Int, maxBytes: Int, now: Date) async throws -> (deleted: [CacheEntryRef], remaining: CacheTotals) {
        let logger = logger
        // One replica evicts at a time (the transaction-scoped lock), so two never both delete
        // down to the limit and together delete twice as much.
        let deleted = try await database.withTransaction(timeout: PostgresBackend.slowOperation) { connection -> [CacheEntryRef] in
            try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresBackend.evictionLock))", logger: logger)
            // The victims: least recently used first, while the running totals are over a limit.
            let rows = try await connection.query(
                """
                WITH live AS (
                    SELECT id, byte_count,
                        COUNT(*) OVER () AS entries, SUM(byte_count) OVER () AS bytes,
                        ROW_NUMBER() OVER (ORDER BY COALESCE(last_hit_at, created_at), id) AS rank,
                        SUM(byte_count) OVER (ORDER BY COALESCE(last_hit_at, created_at), id) AS freed
                    FROM cache_entries WHERE expires_at > \(now)
                ), victims AS (
                    SELECT id FROM live
                    WHERE entries - rank + 1 > \(Int64(maxEntries)) OR bytes - freed + byte_count > \(Int64(maxBytes))
                )
                DELETE FROM cache_entries WHERE id IN (SELECT id FROM victims) RETURNING id, namespace, partition_key
                """,
                logger: logger
            )
            return try await Self.refs(rows)
        }
        return (deleted, try await totals(now: now))
    }

    public func deleteExpired(now: Date) async throws -> [CacheEntryRef] {
        try await Self.refs(database.query(
            "DELETE FROM cache_entries WHERE expires_at <= \(now) RETURNING id, namespace, partition_key"))
    }

    public func purge(_ filter: CachePurgeFilter) async throws -> [CacheEntryRef] {
        try await Self.refs(database.query(
            """
            DELETE FROM cache_entries
            WHERE (\(filter.namespace)::text IS NULL OR namespace = \(filter.namespace))
              AND (\(filter.model)::text IS NULL OR model = \(filter.model))
              AND (\(filter.createdBefore)::timestamptz IS NULL OR created_at < \(filter.createdBefore))
            RETURNING id, namespace, partition_key
            """))
    }

    public func delete(id: Int64) async throws -> CacheEntryRef? {
        try await Self.refs(database.query("DELETE FROM cache_entries WHERE id = \(id) RETURNING id, namespace, partition_key")).first
    }

    static func refs(_ rows: PostgresRowSequence) async throws -> [CacheEntryRef] {
        var refs = [CacheEntryRef]()
        for try await (id, namespace, partition) in rows.decode((Int64, String, String).self) {
            refs.append(CacheEntryRef(id: id, namespace: namespace, partitionKey: partition))
        }
        return refs
    }

    public func stats(now: Date) async throws -> CacheStats {
        var stats = CacheStats()
        var namespaces = [String: CacheStats.Group]()
        var models = [String: CacheStats.Group]()
        let entries = try await database.query(
            """
            SELECT namespace, model, COUNT(*), SUM(byte_count)::bigint FROM cache_entries WHERE expires_at > \(now) GROUP BY namespace, model
            """)
        for try await (namespace, model, count, bytes) in entries.decode((String, String, Int64, Int64).self) {
            let apply = { (g: inout CacheStats.Group) in
                g.entries += Int(clamping: count)
                g.bytes += Int(clamping: bytes)
            }
            apply(&namespaces[namespace, default: .init(name: namespace)])
            apply(&models[model, default: .init(name: model)])
            apply(&stats.total)
        }
        let counters = try await database.query("SELECT namespace, model, direct_hits, semantic_hits, misses FROM cache_counters")
        for try await (namespace, model, direct, semantic, misses) in counters.decode((String, String, Int64, Int64, Int64).self) {
            let apply = { (g: inout CacheStats.Group) in
                g.directHits += Int(clamping: direct)
                g.semanticHits += Int(clamping: semantic)
                g.misses += Int(clamping: misses)
            }
            apply(&namespaces[namespace, default: .init(name: namespace)])
            apply(&models[model, default: .init(name: model)])
            apply(&stats.total)
        }
        stats.byNamespace = namespaces.values.sorted { $0.name < $1.name }
        stats.byModel = models.values.sorted { $0.name < $1.name }
        let rest = try await database.query(
            """
            SELECT (SELECT COUNT(*) FROM cache_entries WHERE expires_at <= \(now)),
                   (SELECT MIN(created_at) FROM cache_entries WHERE expires_at > \(now))
            """)
        for try await (expired, oldest) in rest.decode((Int64, Date?).self) {
            stats.expiredEntries = Int(clamping: expired)
            stats.oldestEntry = oldest
        }
        return stats
    }
}
