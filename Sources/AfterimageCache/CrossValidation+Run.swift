import AfterimageCore
import AfterimageIndex

extension CrossValidation {
    /// Judges every pair once per guard variant of `grid` (the prompts are embedded once) and
    /// cross-validates over `folds` folds. `progress` hears (phase, done, total): `pairs` while
    /// embedding, then `variants` while judging them.
    public static func run(
        pairs: [CacheEvaluation.Pair], folds: Int, grid: Grid, vocabulary: GuardVocabulary, embedder: any Embedder,
        progress: (String, Int, Int) -> Void = { _, _, _ in }
    ) async throws -> CrossValidation {
        guard (2...20).contains(folds) else { throw AfterimageError.invalidPayload("--folds must be between 2 and 20") }
        guard pairs.count >= folds else { throw AfterimageError.invalidPayload("\(pairs.count) pairs cannot fill \(folds) folds") }
        let analyzer = PromptAnalyzer(vocabulary: vocabulary)
        let analyses = pairs.map { (analyzer.analyze($0.a), analyzer.analyze($0.b)) }
        var similarities = [Float]()
        for (a, b) in analyses {
            let vectors = try await embedder.embed([a.embeddingText, b.embeddingText])
            var partition = VectorPartition(dimension: embedder.dimension)
            partition.upsert(id: 1, vector: vectors[0].vector)
            similarities.append(partition.search(vectors[1].vector, k: 1).candidates.first?.score ?? 0)
            progress("pairs", similarities.count, analyses.count)
        }
        let variants = grid.hypernymDepths.count * grid.oneSidedVerbs.count * grid.wordSimilarities.count
        var allowed = [Setting: [Bool]]()
        let words = WordEmbeddings(embedder: embedder)
        for depth in grid.hypernymDepths {
            for verbs in grid.oneSidedVerbs {
                var variant = vocabulary
                variant.lexicon?.hypernymDepth = depth
                variant.oneSidedVerbs = verbs
                let judge = FalseHitGuard(vocabulary: variant, words: words)
                for similarity in grid.wordSimilarities {
                    var verdicts = [Bool]()
                    for (a, b) in analyses {
                        verdicts.append(await judge.verdict(cached: a, incoming: b, wordSimilarity: similarity).allowed)
                    }
                    allowed[Setting(threshold: 0, wordSimilarity: similarity, hypernymDepth: depth, oneSidedVerbs: verbs)] = verdicts
                    progress("variants", allowed.count, variants)
                }
            }
        }
        let sceneWords = analyses.map { Set($0.0.words).union($0.1.words) }
        return CrossValidation(pairs: pairs, sceneWords: sceneWords, folds: folds, grid: grid, similarities: similarities, allowed: allowed)
    }
}
