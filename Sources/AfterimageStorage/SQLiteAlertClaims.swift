import AfterimageCore
import Foundation
import GRDB

/// `AlertClaims` in the app database (`alerts_sent`, migration v7).
public struct SQLiteAlertClaims: AlertClaims {
    let database: AppDatabase

    public init(database: AppDatabase) {
        self.database = database
    }

    public func claim(_ key: String, now: Date) async throws -> Bool {
        let key = AlertClaimKey.bounded(key)
        return try await database.writer.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO alerts_sent (key, sent_at) VALUES (?, ?)", arguments: [key, now])
            return db.changesCount == 1
        }
    }

    public func prune(before cutoff: Date) async throws {
        try await database.writer.write { db in
            try db.execute(sql: "DELETE FROM alerts_sent WHERE sent_at < ?", arguments: [cutoff])
        }
    }
}
