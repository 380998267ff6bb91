import AfterimageCore
import Foundation
import Logging
import PostgresNIO

/// `NamespaceLimitStore` on PostgreSQL (limits as JSON text, like a key's).
public struct PostgresNamespaceLimitStore: NamespaceLimitStore {
    let database: PostgresBackend

    public init(database: PostgresBackend) {
        self.database = database
    }

    public func limits(namespace: String) async throws -> SpendLimits {
        let rows = try await database.query("SELECT limits FROM namespace_limits WHERE namespace = \(namespace)")
        for try await text in rows.decode(String.self) { return Self.decode(text) }
        return SpendLimits()
    }

    /// Read-modify-write in one transaction, the row locked (replicas changing one namespace serialise).
    public func update(namespace: String, changes: LimitChanges) async throws -> SpendLimits {
        let logger = database.logger
        return try await database.withTransaction { connection in
            try await connection.query(
                "INSERT INTO namespace_limits (namespace, limits, updated_at) VALUES (\(namespace), '{}', now()) ON CONFLICT (namespace) DO NOTHING",
                logger: logger
            )
            var limits = SpendLimits()
            let rows = try await connection.query("SELECT limits FROM namespace_limits WHERE namespace = \(namespace) FOR UPDATE", logger: logger)
            for try await text in rows.decode(String.self) { limits = Self.decode(text) }
            changes.apply(to: &limits)
            let text = String(decoding: try JSONEncoder().encode(limits), as: UTF8.self)
            try await connection.query("UPDATE namespace_limits SET limits = \(text), updated_at = now() WHERE namespace = \(namespace)", logger: logger)
            return limits
        }
    }

    public func list() async throws -> [(namespace: String, limits: SpendLimits)] {
        var result = [(namespace: String, limits: SpendLimits)]()
        let rows = try await database.query("SELECT namespace, limits FROM namespace_limits ORDER BY namespace")
        for try await (namespace, text) in rows.decode((String, String).self) { result.append((namespace, Self.decode(text))) }
        return result
    }

    static func decode(_ text: String) -> SpendLimits {
        (try? JSONDecoder().decode(SpendLimits.self, from: Data(text.utf8))) ?? SpendLimits()
    }
}
