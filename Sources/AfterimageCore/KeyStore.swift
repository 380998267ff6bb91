import Foundation

/// Persistent virtual keys.
public protocol KeyStore: Sendable {
    /// Stores a new key and returns it; the secret itself is never stored.
    func create(name: String, namespace: String?, allowedModels: [String]?, expiresAt: Date?, secret: String) async throws -> VirtualKey
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
