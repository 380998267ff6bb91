import AfterimageCore
import Foundation
import Logging
import PostgresNIO

/// Rows copied in from another backend as they are (`afterimage storage migrate`): keys keep
/// their ids and secret hashes, ledger rows their request ids and times. Each import skips what
/// is already there, so a copy can be run again; `census` counts what the database holds.
public struct PostgresImporter: StoreImporter, StoreCounting {
    let database: PostgresBackend

    public init(database: PostgresBackend) {
        self.database = database
    }

    public func importKeys(_ keys: [VirtualKey]) async throws {
        let store = PostgresKeyStore(database: database)
        for key in keys { try await store.insert(key, skipExisting: true) }
    }

    public func importNamespaceLimits(_ limits: [(namespace: String, limits: SpendLimits)]) async throws {
        for (namespace, value) in limits {
            try await database.query(
                """
                INSERT INTO namespace_limits (namespace, limits, updated_at) VALUES (\(namespace), \(KeyColumns.encode(limits: value) ?? "{}"), now())
                ON CONFLICT (namespace) DO NOTHING
                """
            )
        }
    }

    public func importLedger(_ rows: [UsageRecord]) async throws {
        var start = 0
        while start < rows.count {
            let batch = Array(rows[start..<min(rows.count, start + PostgresUsageLedger.maxBatch)])
            try await database.query(try PostgresUsageLedger.insert(batch, skipExisting: true), timeout: PostgresBackend.slowOperation)
            start += batch.count
        }
    }

    public func importLookups(_ entries: [LookupLogEntry]) async throws {
        for e in entries {
            try await database.query(
                """
                INSERT INTO lookup_log (created_at, request_id, namespace, model, prompt, prompt_hash, candidate_id, candidate_prompt,
                    candidate_hash, similarity, refused_by, decision, threshold, candidate_cost_nanos, label, labelled_by, labelled_at)
                SELECT \(e.createdAt), \(e.requestID), \(e.namespace), \(e.model), \(e.prompt), \(e.promptHash), \(e.candidateID),
                    \(e.candidatePrompt), \(e.candidateHash), \(e.similarity.map(Double.init)), \(e.refusedBy?.description), \(e.decision.rawValue),
                    \(Double(e.threshold)), \(e.candidateCost?.nanos), \(e.label?.rawValue), \(e.labelledBy), \(e.label == nil ? nil : Date())
                WHERE NOT EXISTS (SELECT 1 FROM lookup_log WHERE request_id = \(e.requestID) AND created_at = \(e.createdAt))
                """
            )
        }
    }

    public func importAlertClaims(_ claims: [AlertClaimRecord]) async throws {
        for c in claims {
            try await database.query(
                """
                INSERT INTO alerts_sent (key, sent_at, delivered_at, alert, raised_at)
                VALUES (\(AlertClaimKey.bounded(c.key)), \(c.sentAt), \(c.deliveredAt), \(AlertClaimPayload.bounded(c.alert)), \(c.raisedAt))
                ON CONFLICT (key) DO NOTHING
                """
            )
        }
    }

    public func census() async throws -> StoreCensus {
        let rows = try await database.query(
            """
            SELECT (SELECT COUNT(*) FROM virtual_keys), (SELECT COUNT(*) FROM namespace_limits), (SELECT COUNT(*) FROM usage_ledger),
                   (SELECT COALESCE(SUM(cost_nanos), 0)::bigint FROM usage_ledger), (SELECT COUNT(*) FROM cache_entries),
                   (SELECT COUNT(*) FROM images), (SELECT COUNT(*) FROM lookup_log WHERE label IS NOT NULL), (SELECT COUNT(*) FROM cache_settings)
            """,
            timeout: PostgresBackend.slowOperation
        )
        var census = StoreCensus()
        for try await (keys, limits, ledger, cost, entries, images, labelled, settings) in rows.decode((Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64).self) {
            census.keys = Int(keys)
            census.namespaceLimits = Int(limits)
            census.ledgerRows = Int(ledger)
            census.ledgerCostNanos = cost
            census.cacheEntries = Int(entries)
            census.images = Int(images)
            census.labelledLookups = Int(labelled)
            census.cacheSettings = Int(settings)
        }
        return census
    }
}
