import AfterimageCore
import Foundation
import GRDB

/// `AlertClaims` in the app database (`alerts_sent`, migrations v7, v8 and v9).
public struct SQLiteAlertClaims: AlertClaims {
    let database: AppDatabase

    public init(database: AppDatabase) {
        self.database = database
    }

    public func claim(_ key: String, alert: String?, raisedAt: Date, now: Date, lease: TimeInterval) async throws -> Bool {
        let key = AlertClaimKey.bounded(key), alert = AlertClaimPayload.bounded(alert)
        let expired = AlertClaimLease.cutoff(now: now, lease: lease)
        return try await database.writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO alerts_sent (key, sent_at, alert, raised_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT(key) DO UPDATE SET sent_at = excluded.sent_at, alert = COALESCE(excluded.alert, alerts_sent.alert),
                        raised_at = COALESCE(alerts_sent.raised_at, excluded.raised_at)
                    WHERE alerts_sent.delivered_at IS NULL AND alerts_sent.sent_at < ?
                    """,
                arguments: [key, now, alert, raisedAt, expired]
            )
            return db.changesCount == 1
        }
    }

    public func lapsed(now: Date, lease: TimeInterval, raisedSince: Date, limit: Int) async throws -> [(key: String, alert: String)] {
        let expired = AlertClaimLease.cutoff(now: now, lease: lease)
        return try await database.writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT key, alert FROM alerts_sent
                    WHERE delivered_at IS NULL AND sent_at < ? AND alert IS NOT NULL AND raised_at >= ?
                    ORDER BY sent_at LIMIT ?
                    """,
                arguments: [expired, raisedSince, AlertClaimPayload.clampedLimit(limit)]
            ).map { (key: $0["key"], alert: $0["alert"]) }
        }
    }

    public func markDelivered(_ key: String, at: Date) async throws {
        let key = AlertClaimKey.bounded(key)
        try await database.writer.write { db in
            try db.execute(sql: "UPDATE alerts_sent SET delivered_at = ? WHERE key = ?", arguments: [at, key])
        }
    }

    public func claims(after key: String?, limit: Int) async throws -> [AlertClaimRecord] {
        try await database.writer.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT key, sent_at, delivered_at, alert, raised_at FROM alerts_sent WHERE key > ? ORDER BY key LIMIT ?",
                arguments: [key ?? "", AlertClaimPayload.clampedLimit(limit)]
            ).map { AlertClaimRecord(key: $0["key"], sentAt: $0["sent_at"], deliveredAt: $0["delivered_at"], alert: $0["alert"], raisedAt: $0["raised_at"]) }
        }
    }

    public func prune(before cutoff: Date) async throws {
        try await database.writer.write { db in
            try db.execute(sql: "DELETE FROM alerts_sent WHERE sent_at < ?", arguments: [cutoff])
        }
    }
}
