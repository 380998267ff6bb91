import AfterimageCore
import Foundation
import PostgresNIO

/// `AlertClaims` in the shared database (`alerts_sent`, migrations v8 and v9): the first replica
/// to insert a key sends its alert; an undelivered claim past its lease may be taken over.
public struct PostgresAlertClaims: AlertClaims {
    let database: PostgresBackend

    public init(database: PostgresBackend) {
        self.database = database
    }

    public func claim(_ key: String, now: Date, lease: TimeInterval) async throws -> Bool {
        let expired = AlertClaimLease.cutoff(now: now, lease: lease)
        let rows = try await database.query(
            """
            INSERT INTO alerts_sent (key, sent_at) VALUES (\(AlertClaimKey.bounded(key)), \(now))
            ON CONFLICT (key) DO UPDATE SET sent_at = EXCLUDED.sent_at
            WHERE alerts_sent.delivered_at IS NULL AND alerts_sent.sent_at < \(expired)
            RETURNING key
            """)
        var claimed = false
        for try await _ in rows { claimed = true }
        return claimed
    }

    public func markDelivered(_ key: String, at: Date) async throws {
        try await database.query("UPDATE alerts_sent SET delivered_at = \(at) WHERE key = \(AlertClaimKey.bounded(key))")
    }

    public func prune(before cutoff: Date) async throws {
        try await database.query("DELETE FROM alerts_sent WHERE sent_at < \(cutoff)")
    }
}
