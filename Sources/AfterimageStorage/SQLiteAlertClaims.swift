import AfterimageCore
import Foundation
import GRDB

/// `AlertClaims` in the app database (`alerts_sent`, migrations v7 and v8).
public struct SQLiteAlertClaims: AlertClaims {
    let database: AppDatabase

    public init(database: AppDatabase) {
        self.database = database
    }

    public func claim(_ key: String, now: Date, lease: TimeInterval) async throws -> Bool {
        let key = AlertClaimKey.bounded(key)
        let expired = AlertClaimLease.cutoff(now: now, lease: lease)
        return try await database.writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO alerts_sent (key, sent_at) VALUES (?, ?)
                    ON CONFLICT(key) DO UPDATE SET sent_at = excluded.sent_at
                    WHERE alerts_sent.delivered_at IS NULL AND alerts_sent.sent_at < ?
                    """,
                arguments: [key, now, expired]
            )
            return db.changesCount == 1
        }
    }

    public func markDelivered(_ key: String, at: Date) async throws {
        let key = AlertClaimKey.bounded(key)
        try await database.writer.write { db in
            try db.execute(sql: "UPDATE alerts_sent SET delivered_at = ? WHERE key = ?", arguments: [at, key])
        }
    }

    public func prune(before cutoff: Date) async throws {
        try await database.writer.write { db in
            try db.execute(sql: "DELETE FROM alerts_sent WHERE sent_at < ?", arguments: [cutoff])
        }
    }
}
