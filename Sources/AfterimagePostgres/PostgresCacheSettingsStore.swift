import AfterimageCore
import Foundation
import Logging
import PostgresNIO

/// `CacheSettingsStore` on PostgreSQL: `cache_settings` (empty string = any namespace / model)
/// and `cache_settings_audit`, whose last id is the version every replica compares.
public struct PostgresCacheSettingsStore: CacheSettingsStore {
    let database: PostgresBackend

    public init(database: PostgresBackend) {
        self.database = database
    }

    public func load() async throws -> (version: Int64, settings: [CacheSettingScope: CacheSettingValues]) {
        let logger = database.logger
        return try await database.withConnection { connection in
            var version: Int64 = 0
            for try await value in try await connection.query("SELECT COALESCE(MAX(id), 0)::bigint FROM cache_settings_audit", logger: logger).decode(Int64.self) {
                version = value
            }
            var settings = [CacheSettingScope: CacheSettingValues]()
            let rows = try await connection.query("SELECT namespace, model, threshold, word_similarity FROM cache_settings", logger: logger)
            for try await (namespace, model, threshold, wordSimilarity) in rows.decode((String, String, Double?, Double?).self) {
                settings[Self.scope(namespace, model)] = CacheSettingValues(threshold: threshold.map(Float.init), wordSimilarity: wordSimilarity.map(Float.init))
            }
            return (version, settings)
        }
    }

    /// The scope's row is locked for the read-modify-write, so replicas updating it serialise.
    public func update(_ scope: CacheSettingScope, threshold: Float??, wordSimilarity: Float??, by: String) async throws -> [CacheSettingChange] {
        let logger = database.logger
        let namespace = scope.namespace ?? "", model = scope.model ?? ""
        return try await database.withTransaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(namespace + "\u{1F}" + model)))", logger: logger)
            var current = CacheSettingValues(threshold: nil, wordSimilarity: nil)
            let rows = try await connection.query(
                "SELECT threshold, word_similarity FROM cache_settings WHERE namespace = \(namespace) AND model = \(model)", logger: logger
            )
            for try await (threshold, wordSimilarity) in rows.decode((Double?, Double?).self) {
                current = CacheSettingValues(threshold: threshold.map(Float.init), wordSimilarity: wordSimilarity.map(Float.init))
            }
            let (values, changes) = current.applying(threshold: threshold, wordSimilarity: wordSimilarity, scope: scope, by: by, at: Date())
            guard !changes.isEmpty else { return [] }
            if values.isEmpty {
                try await connection.query("DELETE FROM cache_settings WHERE namespace = \(namespace) AND model = \(model)", logger: logger)
            } else {
                try await connection.query(
                    """
                    INSERT INTO cache_settings (namespace, model, threshold, word_similarity)
                    VALUES (\(namespace), \(model), \(values.threshold.map(Double.init)), \(values.wordSimilarity.map(Double.init)))
                    ON CONFLICT (namespace, model) DO UPDATE SET threshold = excluded.threshold, word_similarity = excluded.word_similarity
                    """,
                    logger: logger
                )
            }
            for change in changes {
                try await connection.query(
                    """
                    INSERT INTO cache_settings_audit (at, by, namespace, model, field, old_value, new_value)
                    VALUES (\(change.at), \(change.by), \(namespace), \(model), \(change.field), \(change.old.map(Double.init)), \(change.new.map(Double.init)))
                    """,
                    logger: logger
                )
            }
            return changes
        }
    }

    public func history(limit: Int) async throws -> [CacheSettingChange] {
        var changes = [CacheSettingChange]()
        let rows = try await database.query(
            "SELECT at, by, namespace, model, field, old_value, new_value FROM cache_settings_audit ORDER BY id DESC LIMIT \(max(0, limit))")
        for try await (at, by, namespace, model, field, old, new) in rows.decode((Date, String, String, String, String, Double?, Double?).self) {
            changes.append(CacheSettingChange(at: at, by: by, scope: Self.scope(namespace, model), field: field, old: old.map(Float.init), new: new.map(Float.init)))
        }
        return changes
    }

    static func scope(_ namespace: String, _ model: String) -> CacheSettingScope {
        CacheSettingScope(namespace: namespace.isEmpty ? nil : namespace, model: model.isEmpty ? nil : model)
    }
}
