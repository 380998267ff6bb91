import AfterimageCore
import Foundation
import Logging
import Synchronization

/// The cache's run-time settings: threshold and guard strictness (word similarity) per namespace
/// and/or model, set through the admin API or the CLI, persisted with an audit trail, and in
/// force at once (the table is re-read at most once a second, so CLI changes land too).
/// Precedence: namespace + model, namespace, model, `cache.namespaces.NS` in the config, `cache.*`.
public final class CacheTuner: Sendable {
    /// The most of a prompt the lookup log keeps (2 KiB).
    public static let maxStoredPromptBytes = 2048

    public let base: CacheSettings
    public let store: any CacheSettingsStore
    public let log: any LookupLog
    let logger: Logger
    private let snapshot = Mutex<(settings: [CacheSettingScope: CacheSettingValues], loadedAt: Date)>(([:], .distantPast))

    public init(base: CacheSettings, store: any CacheSettingsStore, log: any LookupLog, logger: Logger) {
        self.base = base
        self.store = store
        self.log = log
        self.logger = logger
    }

    /// The threshold and word similarity in force for a namespace and model.
    public func resolve(namespace: String, model: String, now: Date = Date()) async -> TunedSettings {
        let stale = snapshot.withLock { now.timeIntervalSince($0.loadedAt) >= 1 }
        if stale { await reload(now: now) }
        let settings = snapshot.withLock { $0.settings }
        let scopes = [
            CacheSettingScope(namespace: namespace, model: model), CacheSettingScope(namespace: namespace, model: nil),
            CacheSettingScope(namespace: nil, model: model), CacheSettingScope(namespace: nil, model: nil),
        ]
        let threshold = scopes.lazy.compactMap { settings[$0]?.threshold }.first
        let wordSimilarity = scopes.lazy.compactMap { settings[$0]?.wordSimilarity }.first
        return TunedSettings(threshold: threshold ?? base.threshold(for: namespace), wordSimilarity: wordSimilarity ?? base.wordSimilarity)
    }

    public func reload(now: Date = Date()) async {
        do {
            let (_, settings) = try await store.load()
            snapshot.withLock { $0 = (settings, now) }
        } catch {
            snapshot.withLock { $0.loadedAt = now }
            logger.error("cache settings could not be read; keeping the previous ones", metadata: ["error": "\(error)"])
        }
    }

    /// Changes a scope's settings, records who did it, and applies them at once.
    public func update(_ scope: CacheSettingScope, threshold: Float??, wordSimilarity: Float??, by: String) async throws -> [CacheSettingChange] {
        let changes = try await store.update(scope, threshold: threshold, wordSimilarity: wordSimilarity, by: by)
        await reload()
        return changes
    }

    /// Whether the next lookup is logged (`cache.lookup_log.enabled` and `sample_rate`). Decided
    /// before the lookup, so unlogged lookups skip judging the nearest candidate.
    public func samples() -> Bool {
        base.lookupLogEnabled && (base.lookupLogSampleRate >= 1 || Double.random(in: 0..<1) < base.lookupLogSampleRate)
    }

    /// Records a sampled semantic lookup, keeping prompts only where the namespace allows.
    public func record(_ lookup: CacheLookup, outcome: SemanticOutcome?, requestID: String) async {
        guard lookup.logged, let outcome else { return }
        let keep = base.keepsPrompts(lookup.namespace)
        let best = outcome.best
        let entry = LookupLogEntry(
            createdAt: Date(), requestID: requestID, namespace: lookup.namespace, model: lookup.model,
            // Stored prompts are cut at 2 KiB; their SHA-256 is always of the full text.
            prompt: keep ? LogText.prefix(lookup.prompt, maxBytes: Self.maxStoredPromptBytes) : nil, promptHash: Data(lookup.prompt.utf8).sha256Hex,
            candidateID: best?.entryID, candidatePrompt: keep ? best.map { LogText.prefix($0.prompt, maxBytes: Self.maxStoredPromptBytes) } : nil, candidateHash: best.map { Data($0.prompt.utf8).sha256Hex },
            similarity: best?.similarity, refusedBy: keep ? best?.refusedBy : best?.refusedBy?.redacted, decision: outcome.entry == nil ? .miss : .semantic,
            threshold: lookup.threshold, candidateCost: best?.cost
        )
        do { try await log.append(entry) } catch { logger.warning("lookup log write failed", metadata: ["error": "\(error)"]) }
    }
}
