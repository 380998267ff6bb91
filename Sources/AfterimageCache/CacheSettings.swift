import Foundation

/// Tunables of the cache.
public struct CacheSettings: Sendable {
    /// Per-namespace overrides (`cache.namespaces.NAME.*`).
    public struct NamespaceOverride: Sendable, Equatable {
        /// `threshold`: this namespace's minimum cosine for a semantic hit.
        public var threshold: Float?
        /// `ttl_seconds`: this namespace's entry lifetime.
        public var ttlSeconds: Int?
        public init(threshold: Float? = nil, ttlSeconds: Int? = nil) {
            self.threshold = threshold
            self.ttlSeconds = ttlSeconds
        }
    }

    /// Minimum cosine for a semantic hit (`cache.threshold`).
    public var threshold: Float = 0.85
    /// Word-embedding cosine for two words to align (`cache.guard.word_similarity`).
    public var wordSimilarity: Float = 0.75
    /// Nearest candidates above the threshold the guard looks at (`cache.candidates`).
    public var candidates = 5
    /// Entry lifetime (`cache.ttl_seconds`, default 30 days).
    public var ttlSeconds = 30 * 86_400
    /// Most live entries kept; least recently used go first (`cache.max_entries`).
    public var maxEntries = 100_000
    /// Most image bytes kept by live entries (`cache.max_bytes`, default 10 GiB).
    public var maxBytes = 10 << 30
    /// Seconds between sweeps of expired entries and unused image files (`cache.sweep_interval_seconds`).
    public var sweepIntervalSeconds = 300
    /// Guard vocabulary directory (`cache.guard.vocabulary_dir`).
    public var vocabularyDirectory = "Config/guard"
    /// Whether caching is on at all (`cache.enabled`).
    public var enabled = true
    /// `cache.namespaces`: threshold and TTL per namespace.
    public var namespaces: [String: NamespaceOverride] = [:]

    public init() {}

    /// The threshold in force for a namespace.
    public func threshold(for namespace: String) -> Float { namespaces[namespace]?.threshold ?? threshold }

    /// The entry lifetime for a namespace.
    public func ttlSeconds(for namespace: String) -> Int { namespaces[namespace]?.ttlSeconds ?? ttlSeconds }
}
