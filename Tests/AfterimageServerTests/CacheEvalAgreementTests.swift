import AfterimageCache
import AfterimageCore
import AfterimageEmbedding
import AfterimageTesting
import Foundation
import Testing

/// `cache eval` and the server decide through the same call: on every public pair, with tuned
/// settings that differ from the defaults (threshold and guard strictness), the pair the
/// evaluation serves is the pair a live server serves, and no other.
@Suite struct CacheEvalAgreementTests {
    static let root = TestGateway.packageRoot
    static let modelDirectory = root.appendingPathComponent("models/all-MiniLM-L6-v2").path

    @Test func evalAndServerAgreeOnEveryPublicPairWithTunedSettings() async throws {
        try #require(FileManager.default.fileExists(atPath: Self.modelDirectory + "/model.safetensors"), "run scripts/fetch-model.sh")
        let data = try Data(contentsOf: Self.root.appendingPathComponent("Tests/AfterimageServerTests/Fixtures/cache-pairs-public.jsonl"))
        let pairs = try CacheEvaluation.loadPairs(data, name: "public")
        let tuned = TunedSettings(threshold: 0.8, wordSimilarity: 0.6)
        try await withFixture(configure: {
            $0.embedder.kind = .minilm
            $0.embedder.modelDirectory = Self.modelDirectory
            $0.cache.lookupLogEnabled = false
        }) { f in
            // Run-time settings, as an admin would set them; the evaluation reads the same values.
            let put = try await f.admin(.PUT, "/admin/cache/settings", ["threshold": .number(Double(tuned.threshold)), "word_similarity": .number(Double(tuned.wordSimilarity))])
            #expect(put.status == 200)
            let configuration = f.gateway.configuration
            let matcher = CacheMatcher(
                vocabulary: try GuardVocabulary.load(settings: configuration.cache),
                embedder: try EmbedderFactory.make(configuration.embedder), wordSimilarity: configuration.cache.wordSimilarity
            )
            let evaluation = try await CacheEvaluation(pairs: pairs, matcher: matcher, settings: tuned)
            var disagreements = [String]()
            var served = 0
            for (index, (pair, judgement)) in zip(pairs, evaluation.judgements).enumerated() {
                // Each pair in a namespace of its own: `a` is stored by a miss, then `b` looks it up.
                let (_, secret) = try await f.gateway.createKey(name: "pair-\(index)", namespace: "pair-\(index)")
                let first = try await f.generate(["model": "gpt-image-1", "prompt": .string(pair.a)], key: secret)
                #expect(first.status == 200 && first.headers.first(name: "x-afterimage-cache") == "miss")
                let second = try await f.generate(["model": "gpt-image-1", "prompt": .string(pair.b)], key: secret)
                let hit = second.headers.first(name: "x-afterimage-cache")?.hasPrefix("hit-") == true
                if hit { served += 1 }
                if hit != judgement.served(at: tuned.threshold) {
                    disagreements.append("#\(index) server \(hit ? "hit" : "miss"), eval cos \(judgement.similarity) \(judgement.refusal?.description ?? "allowed"): \(pair.a) || \(pair.b)")
                }
            }
            #expect(disagreements.isEmpty, "\(disagreements.count) disagreements, e.g. \(disagreements.prefix(3))")
            #expect(served > 0 && served < pairs.count, "the tuned settings serve some pairs and refuse others")
            // The tuned strictness matters: at the default word similarity some pair is judged differently.
            let defaults = try await CacheEvaluation(pairs: pairs, matcher: matcher, settings: TunedSettings(threshold: tuned.threshold, wordSimilarity: 0.75))
            #expect(defaults.judgements.map { $0.served(at: tuned.threshold) } != evaluation.judgements.map { $0.served(at: tuned.threshold) })
        }
    }
}
