import Foundation

/// Which alerts were already sent, by their deduplication key (e.g. a scope, period and threshold),
/// so each goes out once — across restarts and across replicas sharing a database.
public protocol AlertClaims: Sendable {
    /// Records `key`; true when it was not recorded before (the caller sends the alert).
    func claim(_ key: String, now: Date) async throws -> Bool
    /// Forgets claims recorded before `cutoff` (their periods are long over).
    func prune(before cutoff: Date) async throws
}

/// The longest deduplication key stored; longer keys are hashed to fit.
public enum AlertClaimKey {
    public static let maxBytes = 256

    /// `key` itself when short enough, else a prefix and the SHA-256 of the whole.
    public static func bounded(_ key: String) -> String {
        guard key.utf8.count > maxBytes else { return key }
        return String(key.prefix(100)) + "#" + Data(key.utf8).sha256Hex
    }
}
