import AfterimageCore
import AfterimageIndex

/// Prompt analysis, embedding and the false-hit guard: the decision a semantic lookup makes,
/// also run on its own by `afterimage cache eval`.
public struct CacheMatcher: Sendable {
    public let analyzer: PromptAnalyzer
    public let falseHitGuard: FalseHitGuard
    public let embedder: any Embedder

    public init(vocabulary: GuardVocabulary, embedder: any Embedder, wordSimilarity: Float) {
        self.analyzer = PromptAnalyzer(vocabulary: vocabulary)
        self.falseHitGuard = FalseHitGuard(vocabulary: vocabulary, embedder: embedder, wordSimilarity: wordSimilarity)
        self.embedder = embedder
    }

    /// One pair as the server would see it: `cached` is in the index, `incoming` looks it up.
    /// Returns whether it is served, the cosine, and the rule that refused it.
    public func decide(cached: String, incoming: String, threshold: Float) async throws -> (hit: Bool, similarity: Float, rule: String?) {
        let a = analyzer.analyze(cached), b = analyzer.analyze(incoming)
        let vectors = try await embedder.embed([a.embeddingText, b.embeddingText])
        var partition = VectorPartition(dimension: embedder.dimension)
        partition.upsert(id: 1, vector: vectors[0].vector)
        let similarity = partition.search(vectors[1].vector, k: 1).first?.score ?? 0
        guard similarity >= threshold else { return (false, similarity, "threshold") }
        let verdict = await falseHitGuard.verdict(cached: a, incoming: b)
        return (verdict.allowed, similarity, verdict.rule)
    }
}
