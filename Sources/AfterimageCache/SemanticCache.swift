import AfterimageCore
import AfterimageIndex
import Foundation

/// Tunables of the cache.
public struct CacheSettings: Sendable {
    /// Minimum cosine for a semantic hit (`cache.threshold`).
    public var threshold: Float = 0.85
    /// Word-embedding cosine for two words to align (`cache.guard.word_similarity`).
    public var wordSimilarity: Float = 0.75
    /// Nearest candidates above the threshold the guard looks at (`cache.candidates`).
    public var candidates = 5
    /// Entry lifetime (`cache.ttl_seconds`, default 30 days).
    public var ttlSeconds = 30 * 86_400
    /// Guard vocabulary directory (`cache.guard.vocabulary_dir`).
    public var vocabularyDirectory = "Config/guard"
    /// Whether caching is on at all (`cache.enabled`).
    public var enabled = true

    public init() {}
}

/// The outcome of a semantic lookup.
public struct SemanticOutcome: Sendable {
    /// The entry to serve, if the lookup hit.
    public var entry: CacheEntry?
    /// Similarity of the served entry, or of the best candidate seen on a miss.
    public var similarity: Float?
    /// The query's embedding (stored with the entry on a miss).
    public var embedding: [Float]
    /// Embedding tokens spent on this lookup.
    public var tokens: Int
    /// Why the best candidate above the threshold was refused, if one was.
    public var refusedBy: String?
}

/// The cache policy: direct lookup by normalised prompt, semantic lookup through the vector index
/// and the false-hit guard, and storing answers. SQLite is the source of truth; the index follows it.
public final class SemanticCache: Sendable {
    public let settings: CacheSettings
    public let embedder: any Embedder
    let store: any CacheStore
    let index: VectorIndex
    public let matcher: CacheMatcher
    var analyzer: PromptAnalyzer { matcher.analyzer }

    public init(settings: CacheSettings, store: any CacheStore, embedder: any Embedder, vocabulary: GuardVocabulary) {
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.index = VectorIndex(dimension: embedder.dimension)
        self.matcher = CacheMatcher(vocabulary: vocabulary, embedder: embedder, wordSimilarity: settings.wordSimilarity)
    }

    /// Loads every unexpired entry's vector from SQLite into the index; returns how many.
    @discardableResult
    public func loadIndex(now: Date = Date()) async throws -> Int {
        index.removeAll()
        let vectors = try await store.vectors(now: now)
        for vector in vectors where vector.embedding.count == index.dimension {
            index.upsert(.init(namespace: vector.namespace, partition: vector.partitionKey), id: vector.id, vector: vector.embedding)
        }
        return vectors.count
    }

    /// The unexpired entry with the same direct key (`CacheKeys.directKey`), namespace and partition.
    public func lookupDirect(namespace: String, partitionKey: String, directKey: String, now: Date = Date()) async throws -> CacheEntry? {
        try await store.findDirect(namespace: namespace, partitionKey: partitionKey, directKey: directKey, now: now)
    }

    /// Embeds the prompt's content words for lookup and storage.
    public func embed(_ prompt: String) async throws -> (vector: [Float], tokens: Int) {
        let embedding = try await embedder.embed([analyzer.analyze(prompt).embeddingText])[0]
        return (embedding.vector, embedding.tokenCount)
    }

    /// Nearest entries in the namespace and partition; the first candidate at or above `threshold`
    /// that the guard allows is the hit. Rows deleted or expired since indexing are skipped.
    public func lookupSemantic(
        namespace: String, partitionKey: String, prompt: String, threshold: Float, now: Date = Date()
    ) async throws -> SemanticOutcome {
        let query = analyzer.analyze(prompt)
        let embedding = try await embedder.embed([query.embeddingText])[0]
        let partition = VectorIndex.PartitionID(namespace: namespace, partition: partitionKey)
        let candidates = index.search(partition, query: embedding.vector, k: settings.candidates)
        var outcome = SemanticOutcome(entry: nil, similarity: candidates.first?.score, embedding: embedding.vector, tokens: embedding.tokenCount)
        for candidate in candidates where candidate.score >= threshold {
            guard let entry = try await store.get(id: candidate.id, now: now),
                  entry.namespace == namespace, entry.partitionKey == partitionKey
            else {
                index.remove(partition, id: candidate.id)
                continue
            }
            let verdict = await matcher.falseHitGuard.verdict(cached: analyzer.analyze(entry.prompt), incoming: query)
            if verdict.allowed {
                outcome.entry = entry
                outcome.similarity = candidate.score
                outcome.refusedBy = nil
                return outcome
            }
            if outcome.refusedBy == nil { outcome.refusedBy = verdict.rule }
        }
        return outcome
    }

    /// Stores an answer (SQLite first, then the index) and returns it with its id.
    public func store(_ entry: CacheEntry) async throws -> CacheEntry {
        let (id, replaced) = try await store.insert(entry)
        let partition = VectorIndex.PartitionID(namespace: entry.namespace, partition: entry.partitionKey)
        if let replaced { index.remove(partition, id: replaced) }
        if let embedding = entry.embedding, embedding.count == index.dimension {
            index.upsert(partition, id: id, vector: embedding)
        }
        var stored = entry
        stored.id = id
        return stored
    }

    /// Counts a hit for LRU and stats.
    public func recordHit(_ entry: CacheEntry, now: Date = Date()) async {
        guard let id = entry.id else { return }
        try? await store.recordHit(id: id, at: now)
    }
}
