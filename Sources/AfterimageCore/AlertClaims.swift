import Foundation

/// Which alerts were claimed and delivered, by their deduplication key (e.g. a scope, period and
/// threshold), so each goes out once — across restarts and across replicas sharing a database —
/// and one whose sender died or failed before delivering it goes out again later.
public protocol AlertClaims: Sendable {
    /// Claims `key` for sending at `now`; true when the caller sends the alert: no claim existed,
    /// or the one there was never marked delivered and is older than `lease` (its sender died,
    /// or every try failed). False while another sender holds it and once it was delivered.
    func claim(_ key: String, now: Date, lease: TimeInterval) async throws -> Bool
    /// Marks a claimed alert delivered (to at least one webhook): never claimed again until pruned.
    func markDelivered(_ key: String, at: Date) async throws
    /// Forgets claims recorded before `cutoff` (their periods are long over).
    func prune(before cutoff: Date) async throws
}

/// When a claim made with a lease has lapsed.
public enum AlertClaimLease {
    /// The longest lease honoured (a webhook's slowest delivery is under an hour).
    public static let maxSeconds: TimeInterval = 7 * 86_400

    /// Claims made before this instant, never marked delivered, may be taken over; `lease` is
    /// clamped to 0…`maxSeconds` (a negative, NaN or infinite one cannot make a date out of range).
    public static func cutoff(now: Date, lease: TimeInterval) -> Date {
        let seconds = lease.isNaN ? 0 : min(max(lease, 0), maxSeconds)
        return now.addingTimeInterval(-seconds)
    }
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
