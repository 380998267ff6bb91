import AfterimageCore
import Foundation
import Logging
import PostgresNIO

/// The usage ledger on PostgreSQL, with group commit (`GroupCommit`): rows that arrive while a
/// batch is being written go together in the next multi-row `INSERT` (one round trip, one
/// commit), and `record` returns only once its own row is committed.
///
/// A row whose request id is already there is skipped, not an error: request ids are the
/// gateway's own 143-bit random ids, so the row there is this request's — a miss's cache-entry
/// transaction that outlived its deadline (`PostgresBackend.guarded` answers at the deadline
/// and cannot stop a statement the server is running) commits the row the fallback write then
/// carries again. As an error it failed the request — and every other row of its batch.
public struct PostgresUsageLedger: UsageLedgerStore {
    let database: PostgresBackend
    private let commits: GroupCommit<UsageRecord>
    /// Rows per `INSERT` (32 parameters each, under PostgreSQL's 65,535).
    static let maxBatch = 500

    public init(database: PostgresBackend) {
        self.database = database
        self.commits = GroupCommit(maxBatch: Self.maxBatch) { batch in
            try await database.query(try Self.insert(batch, skipExisting: true))
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

    /// One multi-row insert of `rows`; with `skipExisting`, rows whose request id is already
    /// there are left alone (imports that run again, group commit after a store's deadline).
    static func insert(_ rows: [UsageRecord], skipExisting: Bool = false) throws -> PostgresQuery {
        var binds = PostgresBindings(capacity: rows.count * columns.count)
        var tuples = [String]()
        for r in rows {
            let first = binds.count
            binds.append(r.requestID); binds.append(r.createdAt); binds.append(r.keyID); binds.append(r.keyName); binds.append(r.namespace)
            binds.append(r.endpoint.rawValue); binds.append(r.provider); binds.append(r.modelRequested); binds.append(r.modelUsed)
            binds.append(Int64(r.status)); binds.append(r.errorCode); binds.append(r.cache?.rawValue); binds.append(r.similarity)
            binds.append(Int64(r.images)); binds.append(r.size); binds.append(r.quality)
            for tokens in [r.textInputTokens, r.cachedTextInputTokens, r.imageInputTokens, r.cachedImageInputTokens, r.imageOutputTokens, r.textOutputTokens] {
                binds.append(Int64(tokens))
            }
            binds.append(r.usageSource); binds.append(r.cost?.nanos); binds.append(r.saved.nanos); binds.append(Int64(r.embeddingTokens))
            binds.append(Int64(r.latencyMs)); binds.append(r.upstreamLatencyMs.map(Int64.init)); binds.append(r.priceVersion); binds.append(r.cacheEntryID)
            binds.append(r.costEstimated); binds.append(r.attempts.isEmpty ? nil : r.attempts.joined(separator: ","))
            tuples.append("(" + (first..<binds.count).map { "$\($0 + 1)" }.joined(separator: ", ") + ")")
        }
        return PostgresQuery(unsafeSQL: "INSERT INTO usage_ledger (\(columns.joined(separator: ", "))) VALUES \(tuples.joined(separator: ", "))"
            + (skipExisting ? " ON CONFLICT (request_id) DO NOTHING" : ""), binds: binds)
    }

    public func spent(keyID: String?, namespace: String?, since: Date) async throws -> Money {
        let query: PostgresQuery = keyID.map { "SELECT COALESCE(SUM(cost_nanos), 0)::bigint FROM usage_ledger WHERE key_id = \($0) AND created_at >= \(since)" }
            ?? "SELECT COALESCE(SUM(cost_nanos), 0)::bigint FROM usage_ledger WHERE namespace = \(namespace ?? "") AND created_at >= \(since)"
        for try await nanos in try await database.query(query).decode(Int64.self) { return Money(nanos: nanos) }
        return .zero
    }

    public func row(requestID: String) async throws -> UsageRecord? {
        let rows = try await database.query("SELECT * FROM usage_ledger WHERE request_id = \(requestID)")
        for try await row in rows { return try Self.record(row) }
        return nil
    }

    public func recordUnauthenticated(_ counts: [UnauthenticatedCount]) async throws {
        for count in counts {
            try await database.query(
                """
                INSERT INTO unauthenticated_requests (minute, source, count) VALUES (\(count.minute), \(String(count.source.prefix(64))), \(Int64(count.count)))
                ON CONFLICT (minute, source) DO UPDATE SET count = unauthenticated_requests.count + excluded.count
                """)
        }
    }

    public func unauthenticatedCount(since: Date) async throws -> Int {
        let rows = try await database.query("SELECT COALESCE(SUM(count), 0)::bigint FROM unauthenticated_requests WHERE minute >= \(since)")
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    static func record(_ row: PostgresRow) throws -> UsageRecord {
        let c = row.makeRandomAccess()
        func int(_ name: String) throws -> Int { Int(try c[name].decode(Int64.self)) }
        var r = UsageRecord(
            requestID: try c["request_id"].decode(String.self), createdAt: try c["created_at"].decode(Date.self),
            endpoint: ImageEndpoint(rawValue: try c["endpoint"].decode(String.self)) ?? .generations, status: Int(try c["status"].decode(Int32.self))
        )
        r.keyID = try c["key_id"].decode(String?.self)
        r.keyName = try c["key_name"].decode(String?.self)
        r.namespace = try c["namespace"].decode(String?.self)
        r.provider = try c["provider"].decode(String?.self)
        r.modelRequested = try c["model_requested"].decode(String?.self)
        r.modelUsed = try c["model_used"].decode(String?.self)
        r.errorCode = try c["error_code"].decode(String?.self)
        r.cache = try c["cache"].decode(String?.self).flatMap(CacheOutcome.init(rawValue:))
        r.similarity = try c["similarity"].decode(Double?.self)
        r.images = Int(try c["images"].decode(Int32.self))
        r.size = try c["size"].decode(String?.self)
        r.quality = try c["quality"].decode(String?.self)
        r.textInputTokens = try int("text_input_tokens")
        r.cachedTextInputTokens = try int("cached_text_input_tokens")
        r.imageInputTokens = try int("image_input_tokens")
        r.cachedImageInputTokens = try int("cached_image_input_tokens")
        r.imageOutputTokens = try int("image_output_tokens")
        r.textOutputTokens = try int("text_output_tokens")
        r.usageSource = try c["usage_source"].decode(String?.self)
        r.cost = try c["cost_nanos"].decode(Int64?.self).map(Money.init(nanos:))
        r.saved = Money(nanos: try c["saved_nanos"].decode(Int64.self))
        r.embeddingTokens = try int("embedding_tokens")
        r.latencyMs = try int("latency_ms")
        r.upstreamLatencyMs = try c["upstream_latency_ms"].decode(Int64?.self).map(Int.init)
        r.priceVersion = try c["price_version"].decode(String?.self)
        r.cacheEntryID = try c["cache_entry_id"].decode(Int64?.self)
        r.costEstimated = try c["cost_estimated"].decode(Bool.self)
        r.attempts = try c["upstream_attempts"].decode(String?.self).map { $0.split(separator: ",").map(String.init) } ?? []
        return r
    }
}
