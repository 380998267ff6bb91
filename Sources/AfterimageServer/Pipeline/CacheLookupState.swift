import AfterimageCache
import AfterimageCore
import Foundation
import HTTPTypes

/// One request's dealings with the cache: its keys, the controls it sent, the lookup (direct,
/// then semantic) and what to store after a miss.
struct CacheLookupState: Sendable {
    let cache: SemanticCache?
    let namespace: String
    let partitionKey: String
    let prompt: String
    /// The normalised prompt and its SHA-256, computed once per request.
    let normalizedPrompt: String
    let directKey: String
    let controls: CacheControlHeaders
    /// The configured model id (the lookup log's and run-time settings' model).
    let model: String
    let threshold: Float
    /// The guard's word-similarity bar in force (run-time strictness).
    let wordSimilarity: Float
    var debug: CacheDebug
    /// The prompt's embedding, once computed by the semantic lookup.
    var embedding: [Float]?
    /// What the semantic lookup found, for the lookup log.
    var semantic: SemanticOutcome?
    /// Whether this lookup goes to the lookup log (sampled by `CacheTuner`).
    var logged = false

    /// `tuned` is the threshold and word similarity in force for this namespace and model.
    init(
        request: ImageRequest, model: ModelCapability, namespace: String, controls: CacheControlHeaders, cache: SemanticCache?,
        tuned: (threshold: Float, wordSimilarity: Float)
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
    var shouldStore: Bool { cache != nil && !controls.noStore }

    var ttlSeconds: Int { controls.ttlSeconds ?? cache?.settings.ttlSeconds(for: namespace) ?? 0 }

    /// Concurrent misses with this key share one upstream call.
    var flightKey: String? {
        shouldStore ? [namespace, partitionKey, directKey].joined(separator: "\u{1F}") : nil
    }

    /// Direct, then semantic lookup; nil on a miss or bypass (`debug` says which).
    mutating func find() async throws -> CacheEntry? {
        guard let cache, !controls.skipLookup else {
            debug.outcome = "bypass"
            return nil
        }
        debug.outcome = "miss"
        if controls.type != .semantic, let entry = try await cache.lookupDirect(namespace: namespace, partitionKey: partitionKey, directKey: directKey) {
            debug.outcome = "direct"
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
                debug.outcome = "semantic"
                debug.entryID = entry.id
                return entry
            }
        } catch {
            // An embedder failure costs the semantic lookup, never the request.
            debug.refusedBy = "embedding_failed"
        }
        return nil
    }

    /// The embedding to store with a new entry when the lookup computed none (nil if it fails
    /// or is not needed), with the tokens it took.
    func embeddingForStore() async -> (vector: [Float], tokens: Int)? {
        guard embedding == nil, let cache, shouldStore, !prompt.isEmpty else { return nil }
        return try? await cache.embed(prompt)
    }
}

extension CacheDebug {
    /// `x-afterimage-cache` and, when known, `x-afterimage-cache-similarity`.
    var headers: HTTPFields {
        var fields: HTTPFields = [HTTPField.Name("x-afterimage-cache")!: headerValue]
        if let similarity, outcome != "direct" {
            fields[HTTPField.Name("x-afterimage-cache-similarity")!] = String(format: "%.6f", similarity)
        }
        return fields
    }
}
