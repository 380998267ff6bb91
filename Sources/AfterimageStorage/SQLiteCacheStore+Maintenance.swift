import AfterimageCore
import Foundation
import GRDB

/// Size limits, expiry, purges and stats of `cache_entries`. Deleting an entry cascades to its
/// `cache_entry_images` links; the image files themselves go when `FileBlobStore` sweeps them.
extension SQLiteCacheStore {
    public func totals(now: Date) async throws -> CacheTotals {
        try await database.writer.read { db in try Self.totals(db, now: now) }
    }

    static func totals(_ db: Database, now: Date) throws -> CacheTotals {
        let row = try Row.fetchOne(
            db, sql: "SELECT COUNT(*) AS entries, COALESCE(SUM(byte_count), 0) AS bytes FROM cache_entries WHERE expires_at > ?",
            arguments: [now]
        )
        return CacheTotals(entries: row?["entries"] ?? 0, bytes: row?["bytes"] ?? 0)
    }

    public func evict(maxEntries: Int, maxBytes: Int, now: Date) async throws -> (deleted: [CacheEntryRef], remaining: CacheTotals) {
        try await database.writer.write { db in
            var totals = try Self.totals(db, now: now)
            guard totals.entries > maxEntries || totals.bytes > maxBytes else { return ([], totals) }
            var victims = [(ref: CacheEntryRef, bytes: Int)]()
            let cursor = try Row.fetchCursor(
                db, sql: """
                    SELECT id, namespace, partition_key, byte_count FROM cache_entries WHERE expires_at > ?
                    ORDER BY COALESCE(last_hit_at, created_at), id
                    """,
                arguments: [now]
            )
            while totals.entries > maxEntries || totals.bytes > maxBytes, let row = try cursor.next() {
                let bytes: Int = row["byte_count"]
                victims.append((Self.ref(row), bytes))
                totals.entries -= 1
                totals.bytes -= bytes
            }
            for victim in victims {
                try db.execute(sql: "DELETE FROM cache_entries WHERE id = ?", arguments: [victim.ref.id])
            }
            return (victims.map(\.ref), totals)
        }
    }

    public func deleteExpired(now: Date) async throws -> [CacheEntryRef] {
        try await deleteAll(where: "expires_at <= ?", arguments: [now])
    }

    public func purge(_ filter: CachePurgeFilter) async throws -> [CacheEntryRef] {
        var conditions = ["1"]
        var arguments = StatementArguments()
        if let namespace = filter.namespace {
            conditions.append("namespace = ?")
            arguments += [namespace]
        }
        if let model = filter.model {
            conditions.append("model = ?")
            arguments += [model]
        }
        if let before = filter.createdBefore {
            conditions.append("created_at < ?")
            arguments += [before]
        }
        return try await deleteAll(where: conditions.joined(separator: " AND "), arguments: arguments)
    }

    public func delete(id: Int64) async throws -> CacheEntryRef? {
        try await deleteAll(where: "id = ?", arguments: [id]).first
    }

    func deleteAll(where condition: String, arguments: StatementArguments) async throws -> [CacheEntryRef] {
        try await database.writer.write { db in
            let refs = try Row.fetchAll(
                db, sql: "SELECT id, namespace, partition_key FROM cache_entries WHERE \(condition)", arguments: arguments
            ).map(Self.ref)
            try db.execute(sql: "DELETE FROM cache_entries WHERE \(condition)", arguments: arguments)
            return refs
        }
    }

    static func ref(_ row: Row) -> CacheEntryRef {
        CacheEntryRef(id: row["id"], namespace: row["namespace"], partitionKey: row["partition_key"])
    }

    public func stats(now: Date) async throws -> CacheStats {
        try await database.writer.read { db in
            var stats = CacheStats()
            var namespaces = [String: CacheStats.Group]()
            var models = [String: CacheStats.Group]()
            let entries = try Row.fetchAll(
                db, sql: """
                    SELECT namespace, model, COUNT(*) AS entries, SUM(byte_count) AS bytes FROM cache_entries
                    WHERE expires_at > ? GROUP BY namespace, model
                    """,
                arguments: [now]
            )
            for row in entries {
                let (namespace, model, count, bytes): (String, String, Int, Int) = (row["namespace"], row["model"], row["entries"], row["bytes"])
                let apply = { (g: inout CacheStats.Group) in
                    g.entries += count
                    g.bytes += bytes
                }
                apply(&namespaces[namespace, default: .init(name: namespace)])
                apply(&models[model, default: .init(name: model)])
                apply(&stats.total)
            }
            for row in try Row.fetchAll(db, sql: "SELECT * FROM cache_counters") {
                let (namespace, model): (String, String) = (row["namespace"], row["model"])
                let (direct, semantic, misses): (Int, Int, Int) = (row["direct_hits"], row["semantic_hits"], row["misses"])
                let apply = { (g: inout CacheStats.Group) in
                    g.directHits += direct
                    g.semanticHits += semantic
                    g.misses += misses
                }
                apply(&namespaces[namespace, default: .init(name: namespace)])
                apply(&models[model, default: .init(name: model)])
                apply(&stats.total)
            }
            stats.byNamespace = namespaces.values.sorted { $0.name < $1.name }
            stats.byModel = models.values.sorted { $0.name < $1.name }
            stats.expiredEntries = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM cache_entries WHERE expires_at <= ?", arguments: [now]) ?? 0
            stats.oldestEntry = try Date.fetchOne(db, sql: "SELECT MIN(created_at) FROM cache_entries WHERE expires_at > ?", arguments: [now])
            return stats
        }
    }
}
