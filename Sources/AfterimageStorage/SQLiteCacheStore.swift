import AfterimageCore
import Foundation
import GRDB

/// `CacheStore` on the app database (`cache_entries`, migration v2).
public struct SQLiteCacheStore: CacheStore {
    let database: AppDatabase

    public init(database: AppDatabase) {
        self.database = database
    }

    public func insert(_ entry: CacheEntry, ledgerRow: UsageRecord?) async throws -> (id: Int64, replaced: CacheEntryRef?) {
        let row = try CacheEntryRow(entry)
        return try await database.writer.write { db in
            let inserted = try Self.insert(row, images: entry.images, db)
            if var ledgerRow {
                ledgerRow.cacheEntryID = inserted.id
                try SQLiteUsageLedger.insert(ledgerRow, db)
            }
            return inserted
        }
    }

    /// Stores many entries in one transaction (bulk loads, benchmarks).
    public func insert(contentsOf entries: [CacheEntry]) async throws {
        let rows = try entries.map { (try CacheEntryRow($0), $0.images) }
        try await database.writer.write { db in
            for (row, images) in rows { _ = try Self.insert(row, images: images, countingMiss: false, db) }
        }
    }

    public func entries(after id: Int64, limit: Int) async throws -> [CacheEntry] {
        try await database.writer.read { db in
            try CacheEntryRow.fetchAll(db, sql: "SELECT * FROM cache_entries WHERE id > ? ORDER BY id LIMIT ?", arguments: [id, max(0, limit)]).map { try $0.entry() }
        }
    }

    /// The row's columns in `insertSQL` order (dates as GRDB stores them, via `DatabaseDate`).
    static let insertSQL = """
        INSERT INTO cache_entries (namespace, partition_key, direct_key, prompt, normalized_prompt, embedding, embedding_model,
            endpoint, provider, model, response, images, image_extras, byte_count, created_at, expires_at, last_hit_at, hit_count, cost_nanos)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// Inserts a row (replacing the entry with the same direct key) with statements each
    /// connection prepares once and explicit columns: no SQL compilation or `Codable` encoding
    /// per miss (both showed in the miss path's profile).
    static func insert(_ row: CacheEntryRow, images: [StoredImage], countingMiss: Bool = true, _ db: Database) throws -> (id: Int64, replaced: CacheEntryRef?) {
        let replacedID = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT id FROM cache_entries WHERE namespace = ? AND partition_key = ? AND direct_key = ?"),
            arguments: [row.namespace, row.partition_key, row.direct_key]
        )
        if let replacedID { try db.cachedStatement(sql: "DELETE FROM cache_entries WHERE id = ?").execute(arguments: [replacedID]) }
        let values: [(any DatabaseValueConvertible)?] = [
            row.namespace, row.partition_key, row.direct_key, row.prompt, row.normalized_prompt, row.embedding, row.embedding_model,
            row.endpoint, row.provider, row.model, row.response, row.images, row.image_extras, row.byte_count,
            DatabaseDate.text(row.created_at), DatabaseDate.text(row.expires_at), row.last_hit_at.map(DatabaseDate.text), row.hit_count, row.cost_nanos,
        ]
        try db.cachedStatement(sql: insertSQL).execute(arguments: StatementArguments(values))
        let id = db.lastInsertedRowID
        // The images' records in the entry's transaction (a miss's new images leave theirs to
        // it: `FileBlobStore.put(_:info:deferRecord:)`), then the entry's links to them.
        let now = Date()
        let imageStatement = try db.cachedStatement(sql: "INSERT INTO cache_entry_images (entry_id, position, image_id) VALUES (?, ?, ?)")
        for (position, image) in images.enumerated() {
            try FileBlobStore.upsertRecord(image, now: now, touch: false, db)
            try imageStatement.execute(arguments: [id, position, image.id])
        }
        if countingMiss { try count(db, column: "misses", namespace: row.namespace, model: row.model) }
        return (id, replacedID.map { CacheEntryRef(id: $0, namespace: row.namespace, partitionKey: row.partition_key) })
    }

    /// Adds one to a `cache_counters` column.
    static func count(_ db: Database, column: String, namespace: String, model: String) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO cache_counters (namespace, model, \(column)) VALUES (?, ?, 1)
                ON CONFLICT(namespace, model) DO UPDATE SET \(column) = \(column) + 1
                """
        ).execute(arguments: [namespace, model])
    }

    // The per-request reads use statements each connection prepares once (`cachedStatement`):
    // compiling SQL on every hit showed in profiles (GRDB's authorizer runs at each compile).
    // They are single SELECTs, consistent on their own, so they skip GRDB's BEGIN/COMMIT, and
    // they run on the calling thread (`AppDatabase.readInline`: no thread hop per read), and
    // their `now` is formatted without ICU (`DatabaseDate`).
    public func findDirect(namespace: String, partitionKey: String, directKey: String, now: Date) async throws -> CacheEntry? {
        try database.readInline { db in
            try CacheEntryRow.fetchOne(
                db.cachedStatement(sql: "SELECT * FROM cache_entries WHERE namespace = ? AND partition_key = ? AND direct_key = ? AND expires_at > ?"),
                arguments: [namespace, partitionKey, directKey, DatabaseDate.text(now)]
            )?.entry()
        }
    }

    public func findDirectID(namespace: String, partitionKey: String, directKey: String, now: Date) async throws -> Int64? {
        try database.readInline { db in
            try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT id FROM cache_entries WHERE namespace = ? AND partition_key = ? AND direct_key = ? AND expires_at > ?"),
                arguments: [namespace, partitionKey, directKey, DatabaseDate.text(now)]
            )
        }
    }

    public func isLive(id: Int64, now: Date) async throws -> Bool {
        try database.readInline { db in
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM cache_entries WHERE id = ? AND expires_at > ?"), arguments: [id, DatabaseDate.text(now)]) != nil
        }
    }

    /// `ids` in chunks of at most 64, so an `IN (…)` list stays bounded however many ids come
    /// (candidates are a handful: `cache.candidates` ≤ 50, graph re-ranks ≤ 2 × that).
    static func chunks(_ ids: [Int64]) -> [(ids: [Int64], marks: String)] {
        stride(from: 0, to: ids.count, by: 64).map { start in
            let chunk = Array(ids[start..<min(start + 64, ids.count)])
            return (chunk, Array(repeating: "?", count: chunk.count).joined(separator: ","))
        }
    }

    public func liveIDs(_ ids: [Int64], now: Date) async throws -> Set<Int64> {
        try database.readInline { db in
            var live = Set<Int64>()
            for (chunk, marks) in Self.chunks(ids) {
                live.formUnion(try Int64.fetchAll(
                    db.cachedStatement(sql: "SELECT id FROM cache_entries WHERE id IN (\(marks)) AND expires_at > ?"),
                    arguments: StatementArguments(chunk) + [DatabaseDate.text(now)]
                ))
            }
            return live
        }
    }

    public func liveVectors(_ ids: [Int64], now: Date) async throws -> [Int64: [Float]] {
        try database.readInline { db in
            var vectors = [Int64: [Float]]()
            for (chunk, marks) in Self.chunks(ids) {
                let rows = try Row.fetchCursor(
                    db.cachedStatement(sql: "SELECT id, embedding FROM cache_entries WHERE id IN (\(marks)) AND expires_at > ? AND embedding IS NOT NULL"),
                    arguments: StatementArguments(chunk) + [DatabaseDate.text(now)]
                )
                while let row = try rows.next() {
                    let blob: Data = row["embedding"]
                    vectors[row["id"]] = EmbeddingBlob.decode(blob)
                }
            }
            return vectors
        }
    }

    public func get(id: Int64, now: Date) async throws -> CacheEntry? {
        try database.readInline { db in
            try CacheEntryRow.fetchOne(db.cachedStatement(sql: "SELECT * FROM cache_entries WHERE id = ? AND expires_at > ?"), arguments: [id, DatabaseDate.text(now)])?.entry()
        }
    }

    public func recordHit(id: Int64, kind: CacheHitKind, at: Date) async throws {
        try await recordHits([CacheHit(id: id, kind: kind, at: at)])
    }

    /// All hits in one write transaction with prepared statements kept by the connection.
    public func recordHits(_ hits: [CacheHit]) async throws {
        guard !hits.isEmpty else { return }
        try await database.writer.write { db in
            for hit in hits {
                let at = DatabaseDate.text(hit.at)
                let column = hit.kind == .direct ? "direct_hits" : "semantic_hits"
                guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT namespace, model FROM cache_entries WHERE id = ?"), arguments: [hit.id]) else { continue }
                try db.cachedStatement(sql: "UPDATE cache_entries SET hit_count = hit_count + 1, \(column) = \(column) + 1, last_hit_at = ? WHERE id = ?")
                    .execute(arguments: [at, hit.id])
                // The hit hands out fresh signed URLs: the images must outlive them.
                try db.cachedStatement(sql: "UPDATE images SET last_used_at = ? WHERE id IN (SELECT image_id FROM cache_entry_images WHERE entry_id = ?)")
                    .execute(arguments: [at, hit.id])
                try db.cachedStatement(sql: """
                    INSERT INTO cache_counters (namespace, model, \(column)) VALUES (?, ?, 1)
                    ON CONFLICT(namespace, model) DO UPDATE SET \(column) = \(column) + 1
                    """).execute(arguments: [row["namespace"], row["model"]])
            }
        }
    }

    public func vectors(now: Date, after id: Int64, limit: Int) async throws -> [CacheVector] {
        try await database.writer.read { db in
            let rows = try Row.fetchCursor(
                db, sql: "SELECT id, namespace, partition_key, embedding FROM cache_entries WHERE id > ? AND embedding IS NOT NULL AND expires_at > ? ORDER BY id LIMIT ?",
                arguments: [id, now, max(1, min(limit, Self.maxVectorPage))]
            )
            var vectors = [CacheVector]()
            while let row = try rows.next() {
                let blob: Data = row["embedding"]
                vectors.append(CacheVector(id: row["id"], namespace: row["namespace"], partitionKey: row["partition_key"], embedding: EmbeddingBlob.decode(blob)))
            }
            return vectors
        }
    }
}
