import Foundation

/// What an alert is about; a webhook subscribes to some of them.
public enum AlertEvent: String, Sendable, CaseIterable, Codable {
    /// A key's or namespace's spend crossed a share of its budget this period.
    case budget
    /// A key expires within `alerts.key_expiry_days`.
    case keyExpiry = "key_expiry"
    /// A request was answered by a fallback model: its first model failed.
    case upstreamFailover = "upstream_failover"
    /// A model's upstream failed `upstream.cooldown.failures` times in a row and rests: with no
    /// fallback, its requests fail fast (the one outage `upstream_failover` never sees).
    case upstreamCooldown = "upstream_cooldown"
    /// An admin labelled a cached answer `different` (a false hit).
    case falseHit = "false_hit"
}

/// `alerts.*`: webhooks and what triggers them.
public struct AlertSettings: Sendable, Equatable {
    /// `alerts.budget_thresholds` (percent of a budget, default 50, 80, 100; each 1–1000, at most 10).
    public var budgetThresholds = [50, 80, 100]
    /// `alerts.key_expiry_days` (0–365, default 7; 0 = no expiry alerts).
    public var keyExpiryDays = 7
    /// `alerts.webhooks` (at most 10).
    public var webhooks: [Webhook] = []

    public init() {}

    public static let maxWebhooks = 10
    public static let maxThresholds = 10

    /// One receiver.
    public struct Webhook: Sendable, Equatable {
        public enum Format: String, Sendable { case json, slack }
        /// `url` (http or https, at most 2048 bytes).
        public var url: String
        /// `events` (default all).
        public var events: Set<AlertEvent> = Set(AlertEvent.allCases)
        /// `secret_env`: the env var holding the HMAC-SHA256 secret; the secret itself.
        public var secretEnv: String?
        public var secret: String?
        /// `format` (`json` | `slack`, default `json`): Slack's incoming-webhook shape (`text`, `blocks`).
        public var format = Format.json
        /// `max_attempts` (1–10, default 5): tries before an alert is given up (logged).
        public var maxAttempts = 5
        /// `initial_backoff_ms` (10–60000, default 1000): doubled after each failed try.
        public var initialBackoffMs = 1000
        /// `timeout_ms` (100–60000, default 10000) per try.
        public var timeoutMs = 10_000

        /// The longest wait between two tries (the doubling stops there).
        public static let maxBackoff = Duration.seconds(300)

        public init(url: String) { self.url = url }

        /// The longest one delivery can take: every try timing out, with the doubling waits
        /// between them (`WebhookSender`'s schedule).
        public var longestDelivery: TimeInterval {
            let attempts = max(1, maxAttempts)
            let cap = Double(Self.maxBackoff.components.seconds)
            var total = Double(attempts) * Double(timeoutMs) / 1000
            var backoff = Double(initialBackoffMs) / 1000
            for _ in 1..<attempts {
                total += backoff
                backoff = min(backoff * 2, cap)
            }
            return total
        }
    }
}
