import AfterimageCore
import Foundation
import PostgresNIO

/// `AlertClaims` in the shared database (`alerts_sent`, migration v8): the first replica to
/// insert a key sends its alert.
public struct PostgresAlertClaims: AlertClaims {
    let database: PostgresBackend

    public init(database: PostgresBackend) {
        self.database = database
    }

    public func claim(_ key: String, now: Date) async throws -> Bool {
        let rows = try await database.query(
            "INSERT INTO alerts_sent (key, sent_at) VALUES (\(AlertClaimKey.bounded(key)), \(now)) ON CONFLICT (key) DO NOTHING RETURNING key")
        for try await _ in rows { return true }
        return false
    }

    public func prune(before cutoff: Date) async throws {
        try await database.query("DELETE FROM alerts_sent WHERE sent_at < \(cutoff)")
    }
}
