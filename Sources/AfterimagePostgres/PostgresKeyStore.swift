import AfterimageCore
import Foundation
import Logging
import PostgresNIO

/// `KeyStore` on PostgreSQL. Every lookup reads the database, so a key revoked on one replica is
/// refused by every replica at once.
public struct PostgresKeyStore: KeyStore {
    let database: PostgresBackend
    var client: PostgresClient { database.client }
    var logger: Logger { database.logger }

    public init(database: PostgresBackend) {
        self.database = database
    }

    static let columns = "id, name, namespace, allowed_models, prefix, secret_hash, created_at, expires_at, revoked_at, rotated_at, limits"

    public func create(name: String, namespace: String?, allowedModels: [String]?, expiresAt: Date?, limits: SpendLimits, secret: String) async throws -> VirtualKey {
        let id = KeySecret.generateID()
        var key = VirtualKey(
            id: id, name: name, namespace: namespace ?? id, allowedModels: allowedModels,
            prefix: KeySecret.displayPrefix(secret), secretHash: KeySecret.hash(secret), createdAt: Date(), expiresAt: expiresAt
        )
        key.limits = limits
        try await insert(key)
        return key
    }

    /// Inserts a key row as it is (id, hash and times kept); with `skipExisting`, a key whose id
    /// is already there is left alone (imports that run again).
    func insert(_ key: VirtualKey, skipExisting: Bool = false) async throws {
        try await database.query(
            """
            INSERT INTO virtual_keys (id, name, namespace, allowed_models, prefix, secret_hash, created_at, expires_at, revoked_at, rotated_at, limits)
            VALUES (\(key.id), \(key.name), \(key.namespace), \(KeyColumns.encode(models: key.allowedModels)), \(key.prefix), \(key.secretHash),
                    \(key.createdAt), \(key.expiresAt), \(key.revokedAt), \(key.rotatedAt), \(KeyColumns.encode(limits: key.limits)))
            \(unescaped: skipExisting ? "ON CONFLICT (id) DO NOTHING" : "")
            """
        )
    }

    public func find(secretHash: String) async throws -> VirtualKey? {
        let key = try await first(database.query("SELECT \(unescaped: Self.columns) FROM virtual_keys WHERE secret_hash = \(secretHash)"))
        // The index found the row; the comparison itself is done in constant time.
        guard let key, KeySecret.constantTimeEquals(key.secretHash, secretHash) else { return nil }
        return key
    }

    public func get(id: String) async throws -> VirtualKey? {
        try await first(database.query("SELECT \(unescaped: Self.columns) FROM virtual_keys WHERE id = \(id)"))
    }

    public func list() async throws -> [VirtualKey] {
        try await all(database.query("SELECT \(unescaped: Self.columns) FROM virtual_keys ORDER BY created_at DESC, id"))
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

    /// Reads the row under `FOR UPDATE`, changes it and writes it back in one transaction (two
    /// replicas changing one key serialise on the row).
    private func modify(id: String, _ change: @escaping @Sendable (inout VirtualKey) -> Void) async throws -> VirtualKey? {
        let logger = logger
        return try await database.withTransaction { connection in
            let rows = try await connection.query("SELECT \(unescaped: Self.columns) FROM virtual_keys WHERE id = \(id) FOR UPDATE", logger: logger)
            guard var key = try await Self.keys(rows).first else { return nil }
            change(&key)
            try await connection.query(
                """
                UPDATE virtual_keys SET name = \(key.name), namespace = \(key.namespace), allowed_models = \(KeyColumns.encode(models: key.allowedModels)),
                    prefix = \(key.prefix), secret_hash = \(key.secretHash), expires_at = \(key.expiresAt), revoked_at = \(key.revokedAt),
                    rotated_at = \(key.rotatedAt), limits = \(KeyColumns.encode(limits: key.limits))
                WHERE id = \(id)
                """,
                logger: logger
            )
            return key
        }
    }

    private func first(_ rows: PostgresRowSequence) async throws -> VirtualKey? { try await Self.keys(rows).first }
    private func all(_ rows: PostgresRowSequence) async throws -> [VirtualKey] { try await Self.keys(rows) }

    static func keys(_ rows: PostgresRowSequence) async throws -> [VirtualKey] {
        var keys = [VirtualKey]()
        let typed = rows.decode((String, String, String, String?, String, String, Date, Date?, Date?, Date?, String?).self)
        for try await (id, name, namespace, models, prefix, hash, created, expires, revoked, rotated, limits) in typed {
            var key = VirtualKey(
                id: id, name: name, namespace: namespace, allowedModels: nil, prefix: prefix, secretHash: hash,
                createdAt: created, expiresAt: expires, revokedAt: revoked, rotatedAt: rotated
            )
            KeyColumns.decode(models: models, limits: limits, into: &key)
            keys.append(key)
        }
        return keys
    }
}
