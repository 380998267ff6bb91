import AfterimageCore
import Foundation
import Logging
import PostgresNIO

/// `CacheStore` on PostgreSQL, shared by every replica. Inserts and deletes fire the
/// `cache_changes` trigger, which is what other replicas' indexes follow (`PostgresCacheChangeFeed`).
public struct PostgresCacheStore: CacheStore {
    let database: PostgresBackend
    var client: PostgresClient { database.client }
    var logger: Logger { database.logger }

    public init(database: PostgresBackend) {
        self.database = database
    }

    static let columns = """
        id, namespace, partition_key, direct_key, prompt, normalized_prompt, embedding, embedding_model, endpoint, provider, model, \
        response, images, image_extras, created_at, expires_at, last_hit_at, hit_count, cost_nanos
        """

    public func insert(_ entry: CacheEntry, ledgerRow: UsageRecord?) async throws -> (id: Int64, replaced: CacheEntryRef?) {
        let columns = try CacheEntryColumns(entry)
        let logger = logger
        return try await database.withTransaction { connection in
            let inserted = try await Self.insert(entry, columns: columns, connection, logger: logger)
            if var ledgerRow {
                ledgerRow.cacheEntryID = inserted.id
                try await connection.query(try PostgresUsageLedger.insert([ledgerRow]), logger: logger)
            }
            return inserted
        }
    }

    public func insert(contentsOf entries: [CacheEntry]) async throws {
        let prepared = try entries.map { ($0, try CacheEntryColumns($0)) }
        let logger = logger
        try await database.withTransaction { connection in
            for (entry, columns) in prepared { _ = try await Self.insert(entry, columns: columns, countingMiss: false, connection, logger: logger) }
        }
    }

    public func entries(after id: Int64, limit: Int) async throws -> [CacheEntry] {
        try await Self.entries(database.query(
            "SELECT \(unescaped: Self.columns) FROM cache_entries WHERE id > \(id) ORDER BY id LIMIT \(Int64(max(0, limit)))"
        ))
    }

    static func insert(
        _ e: CacheEntry, columns: CacheEntryColumns, countingMiss: Bool = true, _ connection: PostgresConnection, logger: Logger
    ) async throws -> (id: Int64, replaced: CacheEntryRef?) {
        let deleted = try await connection.query(
            """
            DELETE FROM cache_entries WHERE namespace = \(e.namespace) AND partition_key = \(e.partitionKey) AND direct_key = \(e.directKey)
            RETURNING id
            """,
            logger: logger
        )
        var replaced: CacheEntryRef?
        for try await id in deleted.decode(Int64.self) { replaced = CacheEntryRef(id: id, namespace: e.namespace, partitionKey: e.partitionKey) }
        let inserted = try await connection.query(
            """
            INSERT INTO cache_entries (namespace, partition_key, direct_key, prompt, normalized_prompt, embedding, embedding_model, endpoint,
                provider, model, response, images, image_extras, byte_count, created_at, expires_at, last_hit_at, hit_count, cost_nanos)
            VALUES (\(e.namespace), \(e.partitionKey), \(e.directKey), \(e.prompt), \(e.normalizedPrompt), \(e.embedding.map(EmbeddingBlob.encode)),
                \(e.embeddingModel), \(e.endpoint.rawValue), \(e.provider), \(e.model), \(columns.response), \(columns.images), \(columns.imageExtras),
                \(Int64(e.byteCount)), \(e.createdAt), \(e.expiresAt), \(e.lastHitAt), \(Int64(e.hitCount)), \(e.cost?.nanos))
            RETURNING id
            """,
            logger: logger
        )
        var id: Int64 = 0
        for try await value in inserted.decode(Int64.self) { id = value }
        if !e.images.isEmpty {
            let positions = (0..<e.images.count).map(Int32.init)
            try await connection.query(
                """
                INSERT INTO cache_entry_images (entry_id, position, image_id)
                SELECT \(id), position, image_id FROM unnest(\(positions)::integer[], \(e.images.map(\.id))::text[]) AS link(position, image_id)
                """,
                logger: logger
            )
        }
        if countingMiss { try await count(connection, column: "misses", namespace: e.namespace, model: e.model, logger: logger) }
        return (id, replaced)
    }

    /// Adds one to a `cache_counters` column (a fixed name, never input).
    static func count(_ connection: PostgresConnection, column: String, namespace: String, model: String, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO cache_counters (namespace, model, \(unescaped: column)) VALUES (\(namespace), \(model), 1)
            ON CONFLICT (namespace, model) DO UPDATE SET \(unescaped: column) = cache_counters.\(unescaped: column) + 1
            """,
            logger: logger
        )
    }

    public func findDirect(namespace: String, partitionKey: String, directKey: String, now: Date) async throws -> CacheEntry? {
        try await Self.entries(database.query(
            """
            SELECT \(unescaped: Self.columns) FROM cache_entries
            WHERE namespace = \(namespace) AND partition_key = \(partitionKey) AND direct_key = \(directKey) AND expires_at > \(now)
            """)).first
    }

    public func findDirectID(namespace: String, partitionKey: String, directKey: String, now: Date) async throws -> Int64? {
        let rows = try await database.query(
            """
            SELECT id FROM cache_entries
            WHERE namespace = \(namespace) AND partition_key = \(partitionKey) AND direct_key = \(directKey) AND expires_at > \(now)
            """)
        // Read the row sequence to its end: leaving it early can leave the pooled connection
        // waiting on the rest of the answer.
        var found: Int64?
        for try await id in rows.decode(Int64.self) { found = id }
        return found
    }

    public func isLive(id: Int64, now: Date) async throws -> Bool {
        try await liveIDs([id], now: now).contains(id)
    }

    public func liveIDs(_ ids: [Int64], now: Date) async throws -> Set<Int64> {
        guard !ids.isEmpty else { return [] }
        let rows = try await database.query("SELECT id FROM cache_entries WHERE id = ANY(\(ids)) AND expires_at > \(now)")
        var live = Set<Int64>()
        for try await id in rows.decode(Int64.self) { live.insert(id) }
        return live
    }

    public func liveVectors(_ ids: [Int64], now: Date) async throws -> [Int64: [Float]] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await database.query("SELECT id, embedding FROM cache_entries WHERE id = ANY(\(ids)) AND expires_at > \(now) AND embedding IS NOT NULL")
        var vectors = [Int64: [Float]]()
        for try await (id, blob) in rows.decode((Int64, Data).self) { vectors[id] = EmbeddingBlob.decode(blob) }
        return vectors
    }

    public func get(id: Int64, now: Date) async throws -> CacheEntry? {
        try await Self.entries(database.query(
            "SELECT \(unescaped: Self.columns) FROM cache_entries WHERE id = \(id) AND expires_at > \(now)")).first
    }

    public func recordHit(id: Int64, kind: CacheHitKind, at: Date) async throws {
        let column = kind == .direct ? "direct_hits" : "semantic_hits"
        // One statement: the entry's counters, its images' last use (the hit hands out fresh signed
        // URLs, so the images must outlive them) and the namespace/model counters.
        try await database.query(
            """
            WITH hit AS (
                UPDATE cache_entries SET hit_count = hit_count + 1, \(unescaped: column) = \(unescaped: column) + 1, last_hit_at = \(at)
                WHERE id = \(id) RETURNING namespace, model
            ), used AS (
                UPDATE images SET last_used_at = \(at) WHERE id IN (SELECT image_id FROM cache_entry_images WHERE entry_id = \(id))
            )
            INSERT INTO cache_counters (namespace, model, \(unescaped: column)) SELECT namespace, model, 1 FROM hit
            ON CONFLICT (namespace, model) DO UPDATE SET \(unescaped: column) = cache_counters.\(unescaped: column) + 1
            """)
    }

    public func vectors(now: Date, after id: Int64, limit: Int) async throws -> [CacheVector] {
        let rows = try await database.query(
            """
            SELECT id, namespace, partition_key, embedding FROM cache_entries
            WHERE id > \(id) AND embedding IS NOT NULL AND expires_at > \(now) ORDER BY id LIMIT \(max(1, min(limit, Self.maxVectorPage)))
            """)
        var vectors = [CacheVector]()
        for try await (id, namespace, partition, blob) in rows.decode((Int64, String, String, Data).self) {
            vectors.append(CacheVector(id: id, namespace: namespace, partitionKey: partition, embedding: EmbeddingBlob.decode(blob)))
        }
        return vectors
    }

    static func entries(_ rows: PostgresRowSequence) async throws -> [CacheEntry] {
        var entries = [CacheEntry]()
        for try await row in rows {
            let r = row.makeRandomAccess()
            let parts = try CacheEntryColumns(
                response: try r["response"].decode(String.self), images: try r["images"].decode(String.self),
                imageExtras: try r["image_extras"].decode(String.self)
            ).decoded()
            entries.append(CacheEntry(
                id: try r["id"].decode(Int64.self), namespace: try r["namespace"].decode(String.self),
                partitionKey: try r["partition_key"].decode(String.self), directKey: try r["direct_key"].decode(String.self),
                prompt: try r["prompt"].decode(String.self), normalizedPrompt: try r["normalized_prompt"].decode(String.self),
                embedding: try r["embedding"].decode(Data?.self).map(EmbeddingBlob.decode), embeddingModel: try r["embedding_model"].decode(String?.self),
                endpoint: ImageEndpoint(rawValue: try r["endpoint"].decode(String.self)) ?? .generations,
                provider: try r["provider"].decode(String.self), model: try r["model"].decode(String.self),
                response: parts.response, images: parts.images, imageExtras: parts.imageExtras,
                createdAt: try r["created_at"].decode(Date.self), expiresAt: try r["expires_at"].decode(Date.self),
                lastHitAt: try r["last_hit_at"].decode(Date?.self), hitCount: Int(clamping: try r["hit_count"].decode(Int64.self)),
                cost: try r["cost_nanos"].decode(Int64?.self).map(Money.init(nanos:))
            ))
        }
        return entries
    }
}
