import AfterimageCore
import Foundation
import GRDB

/// `KeyStore` on the app database. Every lookup reads SQLite, so keys created, revoked or rotated
/// by the CLI take effect on a running server at once.
public struct SQLiteKeyStore: KeyStore {
    let database: AppDatabase
    /// The keys last decoded, by secret hash, with the raw row they came from (bounded).
    let decoded = BoundedMemo<String, (row: [DatabaseValue], key: VirtualKey)>(capacity: 10_000)

    public init(database: AppDatabase) {
        self.database = database
    }

    public func create(name: String, namespace: String?, allowedModels: [String]?, expiresAt: Date?, limits: SpendLimits, secret: String) async throws -> VirtualKey {
        let id = KeySecret.generateID()
        var key = VirtualKey(
            id: id, name: name, namespace: namespace ?? id, allowedModels: allowedModels,
            prefix: KeySecret.displayPrefix(secret), secretHash: KeySecret.hash(secret),
            createdAt: Date(), expiresAt: expiresAt
        )
        key.limits = limits
        let record = KeyRecord(key)
        try await database.writer.write { db in try record.insert(db) }
        return key
    }

    public func find(secretHash: String) async throws -> VirtualKey? {
        // On every request: read inline (`AppDatabase.readInline`), and decode (dates, JSON
        // columns) only when the row differs from the one last decoded for this secret — a key
        // changed by the CLI or an admin call still takes effect at the very next request.
        let row = try database.readInline { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM virtual_keys WHERE secret_hash = ?"), arguments: [secretHash])
        }
        guard let row else { return nil }
        let values = Array(row.databaseValues)
        if let known = decoded.get(secretHash), known.row == values { return known.key }
        let record = try KeyRecord(row: row)
        // The index lookup found the row; the comparison itself is done in constant time.
        guard KeySecret.constantTimeEquals(record.secret_hash, secretHash) else { return nil }
        let key = record.key
        decoded.put(secretHash, (values, key))
        return key
    }

    public func get(id: String) async throws -> VirtualKey? {
        try await database.writer.read { db in try KeyRecord.fetchOne(db, key: id)?.key }
    }

    public func list() async throws -> [VirtualKey] {
        try await database.writer.read { db in
            try KeyRecord.order(Column("created_at").desc, Column("id")).fetchAll(db).map(\.key)
        }
    }

    public func update(id: String, changes: KeyChanges) async throws -> VirtualKey? {
        try await modify(id: id) { $0.apply(changes) }
    }

    public func revoke(id: String) async throws -> VirtualKey? {
        try await modify(id: id) { $0.revoke(at: Date()) }
    }

    public func rotate(id: String, newSecret: String) async throws -> VirtualKey? {
        try await modify(id: id) { $0.rotate(to: newSecret, at: Date()) }
    }

    private func modify(id: String, _ change: @escaping @Sendable (inout VirtualKey) -> Void) async throws -> VirtualKey? {
        try await database.writer.write { db in
            guard let record = try KeyRecord.fetchOne(db, key: id) else { return nil }
            var key = record.key
            change(&key)
            try KeyRecord(key).update(db)
            return key
        }
    }
}
