import AfterimageCore
import AfterimageIndex

/// How the server would judge one pair of prompts, whatever the threshold: the cosine the
/// index computes and the guard's verdict at the strictness in force.
public struct PairJudgement: Sendable, Equatable {
    public var similarity: Float
    /// The guard's refusal, or nil when it allows serving.
    public var refusal: GuardRefusal?

    /// Whether the pair is served at `threshold` (`CacheDecision.serves`).
    public func served(at threshold: Float) -> Bool {
        CacheDecision.serves(similarity: similarity, threshold: threshold, refusal: refusal)
    }

    /// Why the pair is not served at `threshold`, or nil when it is.
    public func refusal(at threshold: Float) -> GuardRefusal? {
        similarity >= threshold ? refusal : .threshold
    }
}

/// Prompt analysis, embedding and the false-hit guard: the semantic lookup's judgement of a
/// pair, also run on its own by `afterimage cache eval`.
public struct CacheMatcher: Sendable {
    public let analyzer: PromptAnalyzer
    public let falseHitGuard: FalseHitGuard
    public let embedder: any Embedder

    public init(vocabulary: GuardVocabulary, embedder: any Embedder, wordSimilarity: Float) {
        self.analyzer = PromptAnalyzer(vocabulary: vocabulary)
        self.falseHitGuard = FalseHitGuard(vocabulary: vocabulary, embedder: embedder, wordSimilarity: wordSimilarity)
        self.embedder = embedder
    }

    /// One pair as the server would see it: `cached` is in the index, `incoming` looks it up,
    /// judged with the guard strictness `wordSimilarity` (nil: the configured one).
    public func judge(cached: String, incoming: String, wordSimilarity: Float? = nil) async throws -> PairJudgement {
        let a = analyzer.analyze(cached), b = analyzer.analyze(incoming)
        let vectors = try await embedder.embed([a.embeddingText, b.embeddingText])
        var partition = VectorPartition(dimension: embedder.dimension)
        partition.upsert(id: 1, vector: vectors[0].vector)
        let similarity = partition.search(vectors[1].vector, k: 1).candidates.first?.score ?? 0
        let verdict = await falseHitGuard.verdict(cached: a, incoming: b, wordSimilarity: wordSimilarity)
        return PairJudgement(similarity: similarity, refusal: verdict.rule)
    }
}
