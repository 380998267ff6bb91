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
        allowed_models = key.allowedModels.map { String(decoding: (try? JSONEncoder().encode($0)) ?? Data("[]".utf8), as: UTF8.self) }
        prefix = key.prefix
        secret_hash = key.secretHash
        created_at = key.createdAt
        expires_at = key.expiresAt
        revoked_at = key.revokedAt
        rotated_at = key.rotatedAt
        limits = key.limits.isEmpty ? nil : String(decoding: (try? JSONEncoder().encode(key.limits)) ?? Data(), as: UTF8.self)
    }

    var key: VirtualKey {
        let models = allowed_models.map { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }
        var key = VirtualKey(
            id: id, name: name, namespace: namespace,
            allowedModels: models.map { $0 ?? [] },
            prefix: prefix, secretHash: secret_hash, createdAt: created_at, expiresAt: expires_at,
            revokedAt: revoked_at, rotatedAt: rotated_at
        )
        if case .some(.none) = models { key.unreadable = "allowed_models" }
        if let limits {
            if let decoded = try? JSONDecoder().decode(SpendLimits.self, from: Data(limits.utf8)) {
                key.limits = decoded
            } else {
                key.unreadable = "limits"
            }
        }
        return key
    }
}
