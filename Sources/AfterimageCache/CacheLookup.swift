import AfterimageCore
import Foundation

/// The threshold and guard strictness in force for a namespace and model (`CacheTuner.resolve`).
public struct TunedSettings: Sendable, Equatable {
    public var threshold: Float
    public var wordSimilarity: Float

    public init(threshold: Float, wordSimilarity: Float) {
        self.threshold = threshold
        self.wordSimilarity = wordSimilarity
    }
}

/// One request's dealings with the cache: its keys, the controls it sent, the lookup (direct,
/// then semantic), the TTL and embedding of what a miss stores.
public struct CacheLookup: Sendable {
    public let cache: SemanticCache?
    public let namespace: String
    public let partitionKey: String
    public let prompt: String
    /// The normalised prompt and its SHA-256, computed once per request.
    public let normalizedPrompt: String
    public let directKey: String
    public let controls: CacheControls
    /// The configured model id (the lookup log's and run-time settings' model).
    public let model: String
    /// The threshold in force: the tuned one, raised (never lowered) by the request's.
    public let threshold: Float
    /// The guard's word-similarity bar in force (run-time strictness).
    public let wordSimilarity: Float
    public var debug: CacheDebug
    /// The prompt's embedding, once computed by the semantic lookup.
    public var embedding: [Float]?
    /// What the semantic lookup found, for the lookup log.
    public var semantic: SemanticOutcome?
    /// Whether this lookup goes to the lookup log (sampled by `CacheTuner`).
    public var logged = false

    /// `tuned` is the threshold and word similarity in force for this namespace and model.
    public init(
        request: ImageRequest, model: ModelCapability, namespace: String, controls: CacheControls, cache: SemanticCache?,
        tuned: TunedSettings
    ) {
        self.cache = cache
        self.namespace = namespace
        self.model = model.id
        self.wordSimilarity = tuned.wordSimilarity
        self.partitionKey = CacheKeys.partitionKey(request, model: model)
        self.prompt = request.prompt ?? ""
        self.normalizedPrompt = CacheKeys.normalizedPrompt(prompt)
        self.directKey = CacheKeys.directKey(normalized: normalizedPrompt)
        self.controls = controls
        let configured = tuned.threshold
        // A header may raise the threshold, never lower it.
        self.threshold = max(configured, controls.threshold ?? configured)
        self.debug = CacheDebug(requestedProvider: model.provider, requestedModel: model.id)
        if let cache {
            debug.embeddingProvider = cache.embedder.provider
            debug.embeddingModel = cache.embedder.modelID
            debug.threshold = threshold
        }
    }

    /// Whether a miss's answer is stored.
    public var shouldStore: Bool { cache != nil && !controls.noStore }

    /// The stored entry's lifetime: the request's (already capped at the namespace's) or the namespace's.
    public var ttlSeconds: Int { controls.ttlSeconds ?? cache?.settings.ttlSeconds(for: namespace) ?? 0 }

    /// Concurrent misses with this key share one upstream call.
    public var flightKey: String? {
        shouldStore ? [namespace, partitionKey, directKey].joined(separator: "\u{1F}") : nil
    }

    /// Direct, then semantic lookup; nil on a miss or bypass (`debug` says which).
    public mutating func find() async throws -> CacheEntry? {
        guard let cache, !controls.skipLookup else {
            debug.outcome = .bypass
            return nil
        }
        debug.outcome = .miss
        if controls.type != .semantic, let entry = try await cache.lookupDirect(namespace: namespace, partitionKey: partitionKey, directKey: directKey) {
            debug.outcome = .direct
            debug.entryID = entry.id
            return entry
        }
        guard controls.type != .direct, !prompt.isEmpty else { return nil }
        do {
            let outcome = try await cache.lookupSemantic(
                namespace: namespace, partitionKey: partitionKey, prompt: prompt, threshold: threshold, wordSimilarity: wordSimilarity,
                judgeNearest: logged
            )
            semantic = outcome
            embedding = outcome.embedding
            debug.inputTokens = outcome.tokens
            debug.similarity = outcome.similarity
            debug.refusedBy = outcome.refusedBy
            if let entry = outcome.entry {
                debug.outcome = .semantic
                debug.entryID = entry.id
                return entry
            }
        } catch {
            // An embedder failure costs the semantic lookup, never the request.
            debug.refusedBy = .embeddingFailed
        }
        return nil
    }

    /// Whether a miss must still embed the prompt to store it (the lookup computed no embedding).
    public var needsStoreEmbedding: Bool { embedding == nil && shouldStore && !prompt.isEmpty }

    /// The embedding to store with a new entry when the lookup computed none (nil if it fails
    /// or is not needed), with the tokens it took.
    public func embeddingForStore() async -> (vector: [Float], tokens: Int)? {
        guard needsStoreEmbedding, let cache else { return nil }
        return try? await cache.embed(prompt)
    }
}
