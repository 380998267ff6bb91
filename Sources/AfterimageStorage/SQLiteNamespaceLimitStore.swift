import AfterimageCore
import Foundation
import GRDB

/// `NamespaceLimitStore` on `namespace_limits` (limits as JSON, like a key's).
public struct SQLiteNamespaceLimitStore: NamespaceLimitStore {
    let database: AppDatabase

    public init(database: AppDatabase) {
        self.database = database
    }

    public func limits(namespace: String) async throws -> SpendLimits {
        try await database.writer.read { db in try Self.limits(db, namespace: namespace) }
    }

    static func limits(_ db: Database, namespace: String) throws -> SpendLimits {
        guard let text = try String.fetchOne(db, sql: "SELECT limits FROM namespace_limits WHERE namespace = ?", arguments: [namespace]) else {
            return SpendLimits()
        }
        return (try? JSONDecoder().decode(SpendLimits.self, from: Data(text.utf8))) ?? SpendLimits()
    }

    public func update(namespace: String, changes: LimitChanges) async throws -> SpendLimits {
        try await database.writer.write { db in
            var limits = try Self.limits(db, namespace: namespace)
            changes.apply(to: &limits)
            let text = String(decoding: try JSONEncoder().encode(limits), as: UTF8.self)
            try db.execute(
                sql: """
                    INSERT INTO namespace_limits (namespace, limits, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT(namespace) DO UPDATE SET limits = excluded.limits, updated_at = excluded.updated_at
                    """,
                arguments: [namespace, text, Date()]
            )
            return limits
        }
    }

    public func list() async throws -> [(namespace: String, limits: SpendLimits)] {
        try await database.writer.read { db in
            try Row.fetchAll(db, sql: "SELECT namespace, limits FROM namespace_limits ORDER BY namespace").map { row in
                let text: String = row["limits"]
                return (row["namespace"], (try? JSONDecoder().decode(SpendLimits.self, from: Data(text.utf8))) ?? SpendLimits())
            }
        }
    }
}
