import AfterimageCore
import Foundation
import GRDB

/// Row of `virtual_keys`.
struct KeyRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "virtual_keys"

    var id: String
    var name: String
    var namespace: String
    /// JSON array of model ids, or NULL for all models.
    var allowed_models: String?
    var prefix: String
    var secret_hash: String
    var created_at: Date
    var expires_at: Date?
    var revoked_at: Date?
    var rotated_at: Date?
    var limits: String?

    init(_ key: VirtualKey) {
        id = key.id
        name = key.name
        namespace = key.namespace
        allowed_models = KeyColumns.encode(models: key.allowedModels)
        prefix = key.prefix
        secret_hash = key.secretHash
        created_at = key.createdAt
        expires_at = key.expiresAt
        revoked_at = key.revokedAt
        rotated_at = key.rotatedAt
        limits = KeyColumns.encode(limits: key.limits)
    }

    var key: VirtualKey {
        var key = VirtualKey(
            id: id, name: name, namespace: namespace, allowedModels: nil, prefix: prefix, secretHash: secret_hash,
            createdAt: created_at, expiresAt: expires_at, revokedAt: revoked_at, rotatedAt: rotated_at
        )
        KeyColumns.decode(models: allowed_models, limits: limits, into: &key)
        return key
    }
}
