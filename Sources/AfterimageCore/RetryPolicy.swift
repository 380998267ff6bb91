import Foundation

/// Exponential backoff with jitter, bounded in attempts and in total time, honouring `Retry-After`.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts per model, the first included.
    public var maxAttempts: Int
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    /// Time budget for all attempts at one model (waits included).
    public var maxTotal: Duration

    public init(maxAttempts: Int = 3, initialBackoff: Duration = .milliseconds(250), maxBackoff: Duration = .seconds(8), maxTotal: Duration = .seconds(60)) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.maxTotal = maxTotal
    }

    /// The wait before attempt `attempt + 1` (attempt counts from 1): the server's `Retry-After` when it
    /// gave one, otherwise `initial × 2^(attempt−1)` capped at `maxBackoff`, scaled by a random factor in [0.5, 1].
    public func delay(afterAttempt attempt: Int, retryAfter: String?, now: Date = Date()) -> Duration {
        if let retryAfter, let seconds = Self.parseRetryAfter(retryAfter, now: now) {
            // Clamped to the time budget: a hostile `Retry-After: 1e300` can neither trap the
            // conversion nor park the request (the dispatcher then gives up on this model).
            let budgetSeconds = Double(maxTotal.components.seconds) + 1
            return .milliseconds(Int64(min(seconds, budgetSeconds) * 1000))
        }
        let exponent = min(max(attempt - 1, 0), 30)
        let base = min(initialBackoff * (1 << exponent), maxBackoff)
        return base * Double.random(in: 0.5...1.0)
    }

    /// The longest `Retry-After` passed on to a client (one day); longer values are clamped.
    public static let maxRetryAfterSeconds = 86_400.0

    /// Seconds from a `Retry-After` value: delta-seconds or an HTTP date, clamped to
    /// 0…`maxRetryAfterSeconds`; nil when it is neither (negative, NaN, garbage, overlong).
    public static func parseRetryAfter(_ value: String, now: Date = Date()) -> Double? {
        guard value.utf8.count <= 64 else { return nil }
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(trimmed) {
            guard seconds >= 0, !seconds.isNaN else { return nil }
            return min(seconds, maxRetryAfterSeconds)
        }
        guard let date = HTTPDate.parse(trimmed) else { return nil }
        return min(max(0, date.timeIntervalSince(now)), maxRetryAfterSeconds)
    }
}
