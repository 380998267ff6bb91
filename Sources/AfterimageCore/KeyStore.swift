import Foundation

/// Persistent virtual keys.
public protocol KeyStore: Sendable {
    /// Stores a new key and returns it; the secret itself is never stored.
    func create(name: String, namespace: String?, allowedModels: [String]?, expiresAt: Date?, limits: SpendLimits, secret: String) async throws -> VirtualKey
    /// The key whose secret hashes to `secretHash`, if any (active or not).
    func find(secretHash: String) async throws -> VirtualKey?
    /// The key with this id.
    func get(id: String) async throws -> VirtualKey?
    /// All keys, newest first.
    func list() async throws -> [VirtualKey]
    /// Applies changes; nil when no such key.
    func update(id: String, changes: KeyChanges) async throws -> VirtualKey?
    /// Marks the key revoked (idempotent); nil when no such key.
    func revoke(id: String) async throws -> VirtualKey?
    /// Replaces the secret, keeping id and history; nil when no such key.
    func rotate(id: String, newSecret: String) async throws -> VirtualKey?
}

extension KeyStore {
    /// A new key without limits.
    public func create(name: String, namespace: String?, allowedModels: [String]?, expiresAt: Date?, secret: String) async throws -> VirtualKey {
        try await create(name: name, namespace: namespace, allowedModels: allowedModels, expiresAt: expiresAt, limits: SpendLimits(), secret: secret)
    }
}

/// Spend budgets and rate limits of namespaces (keys carry their own).
public protocol NamespaceLimitStore: Sendable {
    /// The namespace's limits (empty when none were set).
    func limits(namespace: String) async throws -> SpendLimits
    /// Applies changes and returns the result.
    func update(namespace: String, changes: LimitChanges) async throws -> SpendLimits
    /// Every namespace with limits.
    func list() async throws -> [(namespace: String, limits: SpendLimits)]
}
