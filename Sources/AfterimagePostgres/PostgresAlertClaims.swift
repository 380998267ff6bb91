import AfterimageCore
import Foundation
import PostgresNIO

/// `AlertClaims` in the shared database (`alerts_sent`, migrations v8, v9 and v10): the first replica
/// to insert a key sends its alert; an undelivered claim past its lease may be taken over.
public struct PostgresAlertClaims: AlertClaims {
    let database: PostgresBackend

    public init(database: PostgresBackend) {
        self.database = database
    }

    public func claim(_ key: String, alert: String?, raisedAt: Date, now: Date, lease: TimeInterval) async throws -> Bool {
        let expired = AlertClaimLease.cutoff(now: now, lease: lease)
        let rows = try await database.query(
            """
            INSERT INTO alerts_sent (key, sent_at, alert, raised_at)
            VALUES (\(AlertClaimKey.bounded(key)), \(now), \(AlertClaimPayload.bounded(alert)), \(raisedAt))
            ON CONFLICT (key) DO UPDATE SET sent_at = EXCLUDED.sent_at, alert = COALESCE(EXCLUDED.alert, alerts_sent.alert),
                raised_at = COALESCE(alerts_sent.raised_at, EXCLUDED.raised_at)
            WHERE alerts_sent.delivered_at IS NULL AND alerts_sent.sent_at < \(expired)
            RETURNING key
            """)
        var claimed = false
        for try await _ in rows { claimed = true }
        return claimed
    }

    public func lapsed(now: Date, lease: TimeInterval, raisedSince: Date, limit: Int) async throws -> [(key: String, alert: String)] {
        let expired = AlertClaimLease.cutoff(now: now, lease: lease)
        let rows = try await database.query(
            """
            SELECT key, alert FROM alerts_sent
            WHERE delivered_at IS NULL AND sent_at < \(expired) AND alert IS NOT NULL AND raised_at >= \(raisedSince)
            ORDER BY sent_at LIMIT \(Int64(AlertClaimPayload.clampedLimit(limit)))
            """)
        var lapsed = [(key: String, alert: String)]()
        for try await (key, alert) in rows.decode((String, String).self) { lapsed.append((key, alert)) }
        return lapsed
    }

    public func claims(after key: String?, limit: Int) async throws -> [AlertClaimRecord] {
        let rows = try await database.query(
            """
            SELECT key, sent_at, delivered_at, alert, raised_at FROM alerts_sent WHERE key > \(key ?? "")
            ORDER BY key LIMIT \(Int64(AlertClaimPayload.clampedLimit(limit)))
            """)
        var claims = [AlertClaimRecord]()
        for try await (key, sentAt, deliveredAt, alert, raisedAt) in rows.decode((String, Date, Date?, String?, Date?).self) {
            claims.append(AlertClaimRecord(key: key, sentAt: sentAt, deliveredAt: deliveredAt, alert: alert, raisedAt: raisedAt))
        }
        return claims
    }

    public func markDelivered(_ key: String, at: Date) async throws {
        try await database.query("UPDATE alerts_sent SET delivered_at = \(at) WHERE key = \(AlertClaimKey.bounded(key))")
    }

    public func prune(before cutoff: Date) async throws {
        try await database.query("DELETE FROM alerts_sent WHERE sent_at < \(cutoff)")
    }
}
