import AfterimageCore
import Foundation
import GRDB

/// The usage ledger in `usage_ledger`, with group commit: rows that arrive while a transaction is
/// being written wait and go together in the next one, so under load many requests share one
/// fsync — and `record` still returns only after its own row is committed.
public struct SQLiteUsageLedger: UsageLedgerStore {
    let database: AppDatabase
    private let commits: GroupCommit<UsageRecord>

    public init(database: AppDatabase) {
        self.database = database
        self.commits = GroupCommit { batch in
            try await database.writer.write { db in
                for row in batch { try Self.insert(row, db) }
            }
        }
    }

    public func record(_ row: UsageRecord) async throws {
        try await commits.submit(row)
    }

    static let columns = [
        "request_id", "created_at", "key_id", "key_name", "namespace", "endpoint", "provider", "model_requested", "model_used",
        "status", "error_code", "cache", "similarity", "images", "size", "quality", "text_input_tokens", "cached_text_input_tokens",
        "image_input_tokens", "cached_image_input_tokens", "image_output_tokens", "text_output_tokens", "usage_source", "cost_nanos",
        "saved_nanos", "embedding_tokens", "latency_ms", "upstream_latency_ms", "price_version", "cache_entry_id",
        "cost_estimated", "upstream_attempts",
    ]
    static let insertSQL = "INSERT INTO usage_ledger (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"

    static func insert(_ r: UsageRecord, _ db: Database) throws {
        // The images first, as a cache entry's transaction does: the row's answer links to them.
        for image in r.pendingImageRecords { try FileBlobStore.upsertRecord(image, now: Date(), db) }
        let values: [(any DatabaseValueConvertible)?] = [
            r.requestID, DatabaseDate.text(r.createdAt), r.keyID, r.keyName, r.namespace, r.endpoint.rawValue, r.provider, r.modelRequested, r.modelUsed,
            r.status, r.errorCode, r.cache?.rawValue, r.similarity, r.images, r.size, r.quality, r.textInputTokens, r.cachedTextInputTokens,
            r.imageInputTokens, r.cachedImageInputTokens, r.imageOutputTokens, r.textOutputTokens, r.usageSource, r.cost?.nanos,
            r.saved.nanos, r.embeddingTokens, r.latencyMs, r.upstreamLatencyMs, r.priceVersion, r.cacheEntryID,
            r.costEstimated, r.attempts.isEmpty ? nil : r.attempts.joined(separator: ","),
        ]
        try db.cachedStatement(sql: insertSQL).execute(arguments: StatementArguments(values))
    }

    public func spent(keyID: String?, namespace: String?, since: Date) async throws -> Money {
        let (column, value) = keyID.map { ("key_id", $0) } ?? ("namespace", namespace ?? "")
        let nanos = try await database.writer.read { db in
            try Int64.fetchOne(
                db, sql: "SELECT COALESCE(SUM(cost_nanos), 0) FROM usage_ledger WHERE \(column) = ? AND created_at >= ?",
                arguments: [value, since]
            )
        }
        return Money(nanos: nanos ?? 0)
    }

    public func recordUnauthenticated(_ counts: [UnauthenticatedCount]) async throws {
        guard !counts.isEmpty else { return }
        try await database.writer.write { db in
            for count in counts {
                try db.execute(
                    sql: """
                        INSERT INTO unauthenticated_requests (minute, source, count) VALUES (?, ?, ?)
                        ON CONFLICT(minute, source) DO UPDATE SET count = count + excluded.count
                        """,
                    arguments: [count.minute, count.source, count.count]
                )
            }
        }
    }

    /// Requests refused for a missing or invalid key since `since` (aggregated per minute and address).
    public func unauthenticatedCount(since: Date) async throws -> Int {
        try await database.writer.read { db in
            try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(count), 0) FROM unauthenticated_requests WHERE minute >= ?", arguments: [since]) ?? 0
        }
    }

    /// One row by request id (tests, support).
    public func row(requestID: String) async throws -> UsageRecord? {
        try await database.writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM usage_ledger WHERE request_id = ?", arguments: [requestID]).map(Self.record)
        }
    }

    static func record(_ row: Row) -> UsageRecord {
        var r = UsageRecord(requestID: row["request_id"], createdAt: row["created_at"], endpoint: ImageEndpoint(rawValue: row["endpoint"]) ?? .generations, status: row["status"])
        r.keyID = row["key_id"]
        r.keyName = row["key_name"]
        r.namespace = row["namespace"]
        r.provider = row["provider"]
        r.modelRequested = row["model_requested"]
        r.modelUsed = row["model_used"]
        r.errorCode = row["error_code"]
        r.cache = (row["cache"] as String?).flatMap(CacheOutcome.init(rawValue:))
        r.similarity = row["similarity"]
        r.images = row["images"]
        r.size = row["size"]
        r.quality = row["quality"]
        r.textInputTokens = row["text_input_tokens"]
        r.cachedTextInputTokens = row["cached_text_input_tokens"]
        r.imageInputTokens = row["image_input_tokens"]
        r.cachedImageInputTokens = row["cached_image_input_tokens"]
        r.imageOutputTokens = row["image_output_tokens"]
        r.textOutputTokens = row["text_output_tokens"]
        r.usageSource = row["usage_source"]
        r.cost = (row["cost_nanos"] as Int64?).map(Money.init(nanos:))
        r.saved = Money(nanos: row["saved_nanos"])
        r.embeddingTokens = row["embedding_tokens"]
        r.latencyMs = row["latency_ms"]
        r.upstreamLatencyMs = row["upstream_latency_ms"]
        r.priceVersion = row["price_version"]
        r.cacheEntryID = row["cache_entry_id"]
        r.costEstimated = row["cost_estimated"]
        r.attempts = (row["upstream_attempts"] as String?).map { $0.split(separator: ",").map(String.init) } ?? []
        return r
    }
}
