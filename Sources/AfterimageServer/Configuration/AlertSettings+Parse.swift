import AfterimageAlerts
import Foundation

extension AlertSettings {
    /// Reads the `alerts` section; webhook secrets come from the environment.
    static func parse(_ section: inout YAMLSection, environment: [String: String]) throws -> AlertSettings {
        var settings = AlertSettings()
        if let list = try section.list("budget_thresholds") {
            guard list.count <= maxThresholds else {
                throw ConfigurationError(key: "alerts.budget_thresholds", problem: "at most \(maxThresholds) thresholds, got \(list.count)")
            }
            let thresholds = try list.enumerated().map { index, item -> Int in
                guard let number = item as? Int, (1...1000).contains(number) else {
                    throw ConfigurationError(key: "alerts.budget_thresholds[\(index)]", problem: "must be a whole percentage from 1 to 1000")
                }
                return number
            }
            settings.budgetThresholds = Array(Set(thresholds)).sorted()
        }
        settings.keyExpiryDays = try section.int("key_expiry_days", range: 0...365) ?? settings.keyExpiryDays
        if let hooks = try section.list("webhooks") {
            guard hooks.count <= maxWebhooks else {
                throw ConfigurationError(key: "alerts.webhooks", problem: "at most \(maxWebhooks) webhooks, got \(hooks.count)")
            }
            settings.webhooks = try hooks.indices.map { index in
                var entry = try YAMLSection(path: "alerts.webhooks[\(index)]", value: hooks[index])
                let hook = try Webhook.parse(&entry, environment: environment)
                try entry.finish()
                return hook
            }
        }
        try section.finish()
        return settings
    }
}

extension AlertSettings.Webhook {
    static func parse(_ entry: inout YAMLSection, environment: [String: String]) throws -> Self {
        guard let url = try entry.string("url") else { throw ConfigurationError(key: entry.keyPath("url"), problem: "is required") }
        guard url.utf8.count <= 2048, let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""),
              parsed.host?.isEmpty == false else {
            throw ConfigurationError(key: entry.keyPath("url"), problem: "must be an http(s) URL of at most 2048 bytes")
        }
        var hook = Self(url: url)
        if let names = try entry.strings("events") {
            guard !names.isEmpty else { throw ConfigurationError(key: entry.keyPath("events"), problem: "must name at least one event") }
            hook.events = Set(try names.map { name in
                guard let event = AlertEvent(rawValue: name) else {
                    throw ConfigurationError(
                        key: entry.keyPath("events"),
                        problem: "unknown event '\(name.prefix(64))'; use \(AlertEvent.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                return event
            })
        }
        if let env = try entry.string("secret_env") {
            guard let secret = environment[env], !secret.isEmpty else {
                throw ConfigurationError(key: entry.keyPath("secret_env"), problem: "names \(env.prefix(64)), which is not set")
            }
            hook.secretEnv = env
            hook.secret = secret
        }
        if let format = try entry.string("format") {
            guard let value = Format(rawValue: format) else { throw ConfigurationError(key: entry.keyPath("format"), problem: "must be json or slack") }
            hook.format = value
        }
        hook.maxAttempts = try entry.int("max_attempts", range: 1...10) ?? hook.maxAttempts
        hook.initialBackoffMs = try entry.int("initial_backoff_ms", range: 10...60_000) ?? hook.initialBackoffMs
        hook.timeoutMs = try entry.int("timeout_ms", range: 100...60_000) ?? hook.timeoutMs
        return hook
    }
}
