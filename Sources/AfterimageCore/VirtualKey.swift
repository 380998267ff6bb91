import Foundation

/// A client credential as stored: never the secret itself, only its hash and a display prefix.
public struct VirtualKey: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    /// Cache namespace; defaults to the key's own id.
    public var namespace: String
    /// Model ids this key may use; nil allows every configured model.
    public var allowedModels: [String]?
    /// First characters of the secret, safe to show (`sk-af-AbCd`).
    public var prefix: String
    /// Lower-case hex SHA-256 of the secret.
    public var secretHash: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var rotatedAt: Date?
    /// Spend budget and rate limits of this key.
    public var limits = SpendLimits()
    /// Set when the stored row's `allowed_models` or `limits` could not be read: such a key is
    /// refused (fail closed), never treated as unrestricted.
    public var unreadable: String?

    public init(
        id: String, name: String, namespace: String, allowedModels: [String]?, prefix: String, secretHash: String,
        createdAt: Date, expiresAt: Date?, revokedAt: Date? = nil, rotatedAt: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.namespace = namespace
        self.allowedModels = allowedModels
        self.prefix = prefix
        self.secretHash = secretHash
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.rotatedAt = rotatedAt
    }

    /// Whether the key may be used at `now`.
    public func isActive(at now: Date) -> Bool {
        if revokedAt != nil { return false }
        if let expiresAt, expiresAt <= now { return false }
        return true
    }

    /// Whether the key may use the model with this id (plain or qualified).
    public func allows(model: ModelCapability) -> Bool {
        guard let allowedModels else { return true }
        return allowedModels.contains(model.id) || allowedModels.contains(model.qualifiedID)
    }
}

/// Fields a caller may set when creating or changing a key.
public struct KeyChanges: Sendable, Equatable {
    public var name: String?
    public var namespace: String?
    /// `.some(nil)` clears the restriction.
    public var allowedModels: [String]??
    /// `.some(nil)` clears the expiry.
    public var expiresAt: Date??
    public var limits = LimitChanges()

    public init(name: String? = nil, namespace: String? = nil, allowedModels: [String]?? = nil, expiresAt: Date?? = nil, limits: LimitChanges = LimitChanges()) {
        self.name = name
        self.namespace = namespace
        self.allowedModels = allowedModels
        self.expiresAt = expiresAt
        self.limits = limits
    }
}

/// How a key's model list and limits are stored (JSON text columns), the same in every backend.
/// A column that does not decode marks the key `unreadable`: it is refused, never unrestricted.
public enum KeyColumns {
    public static func encode(models: [String]?) -> String? {
        models.map { String(decoding: (try? JSONEncoder().encode($0)) ?? Data("[]".utf8), as: UTF8.self) }
    }

    public static func encode(limits: SpendLimits) -> String? {
        limits.isEmpty ? nil : String(decoding: (try? JSONEncoder().encode(limits)) ?? Data(), as: UTF8.self)
    }

    /// Sets `allowedModels` and `limits` of `key` from their stored text.
    public static func decode(models: String?, limits: String?, into key: inout VirtualKey) {
        if let models {
            if let decoded = try? JSONDecoder().decode([String].self, from: Data(models.utf8)) {
                key.allowedModels = decoded
            } else {
                key.allowedModels = []
                key.unreadable = "allowed_models"
            }
        } else {
            key.allowedModels = nil
        }
        if let limits {
            if let decoded = try? JSONDecoder().decode(SpendLimits.self, from: Data(limits.utf8)) {
                key.limits = decoded
            } else {
                key.unreadable = "limits"
            }
        }
    }
}

extension VirtualKey {
    /// Applies an update (the same in every backend).
    public mutating func apply(_ changes: KeyChanges) {
        if let name = changes.name { self.name = name }
        if let namespace = changes.namespace { self.namespace = namespace }
        if let allowedModels = changes.allowedModels { self.allowedModels = allowedModels }
        if let expiresAt = changes.expiresAt { self.expiresAt = expiresAt }
        changes.limits.apply(to: &limits)
    }

    /// Revokes the key (idempotent: the first revocation time stays).
    public mutating func revoke(at date: Date) {
        if revokedAt == nil { revokedAt = date }
    }

    /// Replaces the secret, keeping id and history.
    public mutating func rotate(to secret: String, at date: Date) {
        secretHash = KeySecret.hash(secret)
        prefix = KeySecret.displayPrefix(secret)
        rotatedAt = date
    }
}
