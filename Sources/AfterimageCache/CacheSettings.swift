import Foundation

/// Tunables of the cache.
public struct CacheSettings: Sendable {
    /// Per-namespace overrides (`cache.namespaces.NAME.*`).
    public struct NamespaceOverride: Sendable, Equatable {
        /// `threshold`: this namespace's minimum cosine for a semantic hit.
        public var threshold: Float?
        /// `ttl_seconds`: this namespace's entry lifetime.
        public var ttlSeconds: Int?
        /// `keep_prompts`: whether the lookup log keeps this namespace's prompts (else hashes).
        public var keepPrompts: Bool?
        public init(threshold: Float? = nil, ttlSeconds: Int? = nil, keepPrompts: Bool? = nil) {
            self.threshold = threshold
            self.ttlSeconds = ttlSeconds
            self.keepPrompts = keepPrompts
        }
    }

    /// Minimum cosine for a semantic hit (`cache.threshold`).
    public var threshold: Float = 0.60
    /// Word-embedding cosine for two words to align (`cache.guard.word_similarity`).
    public var wordSimilarity: Float = 0.85
    /// Partition size from which lookups use the approximate HNSW graph, re-ranked exactly
    /// (`cache.index.ann_min_entries`, default 20,000; 0 keeps the exact scan always). The graph
    /// is built on a background thread; lookups use the exact scan until it is installed.
    public var annMinEntries = 20_000
    /// Candidates the graph keeps while searching (`cache.index.ef_search`, 8–1,000, default 100):
    /// recall against latency in very large partitions (README, "Index speed").
    public var annEfSearch = 100
    /// Whether the server keeps the graphs' snapshots in `<data_dir>/index-snapshots`
    /// (`cache.index.snapshots`, default true), so a restart does not rebuild them.
    public var indexSnapshots = true
    /// The snapshots' directory (the server sets it from `data_dir` when `indexSnapshots` is on);
    /// nil rebuilds graphs from the rows at every start.
    public var indexSnapshotDirectory: String?
    /// What, besides the embedder's provider, model and dimension, decides its vectors (MiniLM's
    /// weight precision): a snapshot written under another is not used.
    public var embedderVariant = ""
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
    /// WordNet database directory (`cache.guard.wordnet_dir`; Debian's `wordnet-base`).
    public var wordNetDirectory = "/usr/share/wordnet"
    /// Senses per word the lexicon considers, most frequent first (`cache.guard.senses`).
    public var lexiconSenses = 3
    /// Most hypernym steps between two words that may stand for each other (`cache.guard.hypernym_depth`).
    public var hypernymDepth = 1
    /// Whether a verb only one prompt has may go unmatched (`cache.guard.one_sided_verbs`).
    public var oneSidedVerbs = true
    /// Whether caching is on at all (`cache.enabled`).
    public var enabled = true
    /// `cache.lookup_log.enabled`: record semantic lookups for tuning.
    public var lookupLogEnabled = true
    /// `cache.lookup_log.max_rows`: the log's size (oldest rows dropped).
    public var lookupLogMaxRows = 100_000
    /// `cache.lookup_log.sample_rate`: share of lookups recorded (0–1).
    public var lookupLogSampleRate = 1.0
    /// `cache.lookup_log.keep_prompts`: keep prompts in the log (else SHA-256 only); per-namespace override.
    public var keepPrompts = true
    /// `cache.namespaces`: threshold, TTL and prompt keeping per namespace.
    public var namespaces: [String: NamespaceOverride] = [:]

    public init() {}

    /// The threshold in force for a namespace.
    public func threshold(for namespace: String) -> Float { namespaces[namespace]?.threshold ?? threshold }

    /// Whether the lookup log keeps a namespace's prompts.
    public func keepsPrompts(_ namespace: String) -> Bool { namespaces[namespace]?.keepPrompts ?? keepPrompts }

    /// The entry lifetime for a namespace.
    public func ttlSeconds(for namespace: String) -> Int { namespaces[namespace]?.ttlSeconds ?? ttlSeconds }
}
