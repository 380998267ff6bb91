import Foundation
import Synchronization

/// Models whose upstream keeps failing rest for a while: after `failures` retryable failures in a
/// row (429, 5xx, timeouts, refused or dropped connections) a model cools down for `seconds`.
/// While it does, a request that has another model to try (its `fallbacks`) skips it — during an
/// outage each request no longer spends the whole retry budget on a model known to be failing
/// before it fails over — and a request with nothing else to try makes one attempt at it, not a
/// full round of retries. A success ends the cool-down; a failed attempt during it starts it anew.
/// Per process (replicas each learn on their own).
public final class UpstreamCooldown: Sendable {
    /// `upstream.cooldown.*`.
    public struct Settings: Sendable, Equatable {
        /// Retryable failures in a row that start a cool-down (0 turns it off).
        public var failures: Int
        /// How long a cool-down lasts.
        public var seconds: Int

        public init(failures: Int = 3, seconds: Int = 10) {
            self.failures = failures
            self.seconds = seconds
        }

        /// Bounds of the configuration keys.
        public static let failureRange = 0...100
        public static let secondsRange = 1...3_600
    }

    struct Health {
        var failuresInARow = 0
        var coolingUntil: ContinuousClock.Instant?
    }

    public let settings: Settings
    private let models = Mutex<[String: Health]>([:])
    /// Called (outside the lock) with a model's name when it starts to rest, not when a rest is
    /// prolonged.
    private let onRest: @Sendable (String) -> Void
    /// Models tracked at most (the configured models are far fewer; `provider/model` keys only).
    static let maxTracked = 10_000

    public init(_ settings: Settings = Settings(), onRest: @escaping @Sendable (String) -> Void = { _ in }) {
        self.settings = settings
        self.onRest = onRest
    }

    public static let off = UpstreamCooldown(Settings(failures: 0))

    /// Whether `model` is cooling down at `now`.
    public func isCooling(_ model: String, now: ContinuousClock.Instant = .now) -> Bool {
        guard settings.failures > 0 else { return false }
        return models.withLock { $0[model]?.coolingUntil.map { now < $0 } ?? false }
    }

    /// Notes a retryable failure; true when it started (or restarted) a cool-down.
    @discardableResult
    public func failed(_ model: String, now: ContinuousClock.Instant = .now) -> Bool {
        guard settings.failures > 0 else { return false }
        let (rests, begins) = models.withLock { models -> (Bool, Bool) in
            guard models[model] != nil || models.count < Self.maxTracked else { return (false, false) }
            var health = models[model, default: Health()]
            let cooling = health.coolingUntil.map { now < $0 } ?? false
            health.failuresInARow = min(health.failuresInARow + 1, settings.failures)
            let rests = cooling || health.failuresInARow >= settings.failures
            if rests { health.coolingUntil = now + .seconds(settings.seconds) }
            models[model] = health
            return (rests, rests && !cooling)
        }
        if begins { onRest(model) }
        return rests
    }

    /// A model that failed lately, as `GET /admin/upstream` shows it.
    public struct ModelHealth: Sendable, Equatable {
        /// `provider/model`.
        public var model: String
        /// Retryable failures in a row (at most `failures`).
        public var failuresInARow: Int
        /// Time left of its rest, nil when it is not resting.
        public var restingFor: Duration?
    }

    /// Every model with failures in a row since its last success, by name.
    public func health(now: ContinuousClock.Instant = .now) -> [ModelHealth] {
        models.withLock { models in
            models.map { name, health in
                let left = health.coolingUntil.map { $0 - now }
                return ModelHealth(model: name, failuresInARow: health.failuresInARow, restingFor: left.flatMap { $0 > .zero ? $0 : nil })
            }
        }.sorted { $0.model < $1.model }
    }

    /// Notes a success: the model is healthy again.
    public func succeeded(_ model: String) {
        guard settings.failures > 0 else { return }
        models.withLock { _ = $0.removeValue(forKey: model) }
    }
}
