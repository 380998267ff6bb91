import Foundation

/// Which alerts were claimed and delivered, by their deduplication key (e.g. a scope, period and
/// threshold), so each goes out once — across restarts and across replicas sharing a database —
/// and one whose sender died or failed before delivering it goes out again later.
public protocol AlertClaims: Sendable {
    /// Claims `key` for sending at `now`; true when the caller sends the alert: no claim existed,
    /// or the one there was never marked delivered and is older than `lease` (its sender died,
    /// or every try failed). False while another sender holds it and once it was delivered.
    ///
    /// `alert` is the alert as text (`AlertClaimPayload`), kept with the claim so that an alert
    /// never marked delivered is sent again once its lease lapsed (`lapsed`) even when nothing
    /// raises it again; `raisedAt` is when it was first raised (kept on takeover).
    func claim(_ key: String, alert: String?, raisedAt: Date, now: Date, lease: TimeInterval) async throws -> Bool
    /// Claims never marked delivered whose lease lapsed, with the alert kept with them, first
    /// raised at or after `raisedSince`; the longest-waiting first, at most `limit`.
    func lapsed(now: Date, lease: TimeInterval, raisedSince: Date, limit: Int) async throws -> [(key: String, alert: String)]
    /// Marks a claimed alert delivered (to at least one webhook): never claimed again until pruned.
    func markDelivered(_ key: String, at: Date) async throws
    /// Forgets claims recorded before `cutoff` (their periods are long over).
    func prune(before cutoff: Date) async throws
    /// Claims in key order after `key` (nil: from the first), at most `limit` — for
    /// `storage migrate`, so alerts already sent are not sent again from the new backend.
    func claims(after key: String?, limit: Int) async throws -> [AlertClaimRecord]
}

/// One claim as stored, for copying between backends.
public struct AlertClaimRecord: Sendable, Equatable {
    public var key: String
    public var sentAt: Date
    public var deliveredAt: Date?
    public var alert: String?
    public var raisedAt: Date?

    public init(key: String, sentAt: Date, deliveredAt: Date?, alert: String?, raisedAt: Date?) {
        self.key = key
        self.sentAt = sentAt
        self.deliveredAt = deliveredAt
        self.alert = alert
        self.raisedAt = raisedAt
    }
}

extension AlertClaims {
    /// Claims `key` without keeping the alert (it can only be sent again by raising it again).
    public func claim(_ key: String, now: Date, lease: TimeInterval) async throws -> Bool {
        try await claim(key, alert: nil, raisedAt: now, now: now, lease: lease)
    }
}

/// The alert text kept with a claim, bounded: a longer one is not kept (the alert is then sent
/// again only when raised again).
public enum AlertClaimPayload {
    public static let maxBytes = 16_384

    public static func bounded(_ alert: String?) -> String? {
        guard let alert, alert.utf8.count <= maxBytes else { return nil }
        return alert
    }

    /// `limit` clamped to 0…1,000 rows per call.
    public static func clampedLimit(_ limit: Int) -> Int { min(max(limit, 0), 1_000) }
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
