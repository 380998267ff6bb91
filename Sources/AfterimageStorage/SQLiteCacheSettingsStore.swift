import AfterimageCore
import Foundation
import GRDB

/// `CacheSettingsStore` on `cache_settings` (empty string = any namespace / model) and
/// `cache_settings_audit`; the audit's last id is the version.
public struct SQLiteCacheSettingsStore: CacheSettingsStore {
    let database: AppDatabase

    public init(database: AppDatabase) {
        self.database = database
    }

    public func load() async throws -> (version: Int64, settings: [CacheSettingScope: CacheSettingValues]) {
        try await database.writer.read { db in
            let version = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(id), 0) FROM cache_settings_audit") ?? 0
            var settings = [CacheSettingScope: CacheSettingValues]()
            for row in try Row.fetchAll(db, sql: "SELECT * FROM cache_settings") {
                let scope = Self.scope(row)
                settings[scope] = CacheSettingValues(
                    threshold: (row["threshold"] as Double?).map(Float.init), wordSimilarity: (row["word_similarity"] as Double?).map(Float.init)
                )
            }
            return (version, settings)
        }
    }

    public func update(_ scope: CacheSettingScope, threshold: Float??, wordSimilarity: Float??, by: String) async throws -> [CacheSettingChange] {
        try await database.writer.write { db in
            let current = try Row.fetchOne(db, sql: "SELECT * FROM cache_settings WHERE namespace = ? AND model = ?", arguments: [scope.namespace ?? "", scope.model ?? ""])
            let (values, changes) = CacheSettingValues(
                threshold: current.flatMap { ($0["threshold"] as Double?).map(Float.init) },
                wordSimilarity: current.flatMap { ($0["word_similarity"] as Double?).map(Float.init) }
            ).applying(threshold: threshold, wordSimilarity: wordSimilarity, scope: scope, by: by, at: Date())
            guard !changes.isEmpty else { return [] }
            if values.isEmpty {
                try db.execute(sql: "DELETE FROM cache_settings WHERE namespace = ? AND model = ?", arguments: [scope.namespace ?? "", scope.model ?? ""])
            } else {
                try db.execute(
                    sql: """
                        INSERT INTO cache_settings (namespace, model, threshold, word_similarity) VALUES (?, ?, ?, ?)
                        ON CONFLICT(namespace, model) DO UPDATE SET threshold = excluded.threshold, word_similarity = excluded.word_similarity
                        """,
                    arguments: [scope.namespace ?? "", scope.model ?? "", values.threshold.map { Double($0) }, values.wordSimilarity.map { Double($0) }]
                )
            }
            for change in changes {
                try db.execute(
                    sql: "INSERT INTO cache_settings_audit (at, by, namespace, model, field, old_value, new_value) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    arguments: [change.at, change.by, scope.namespace ?? "", scope.model ?? "", change.field, change.old.map { Double($0) }, change.new.map { Double($0) }]
                )
            }
            return changes
        }
    }

    public func history(limit: Int) async throws -> [CacheSettingChange] {
        try await database.writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM cache_settings_audit ORDER BY id DESC LIMIT ?", arguments: [limit]).map { row in
                CacheSettingChange(
                    at: row["at"], by: row["by"], scope: Self.scope(row), field: row["field"],
                    old: (row["old_value"] as Double?).map(Float.init), new: (row["new_value"] as Double?).map(Float.init)
                )
            }
        }
    }

    static func scope(_ row: Row) -> CacheSettingScope {
        let namespace: String = row["namespace"], model: String = row["model"]
        return CacheSettingScope(namespace: namespace.isEmpty ? nil : namespace, model: model.isEmpty ? nil : model)
    }
}
