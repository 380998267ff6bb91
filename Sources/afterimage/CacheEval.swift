import AfterimageCache
import AfterimageCore
import AfterimageEmbedding
import AfterimageServer
import ArgumentParser
import Foundation
import Logging

/// `afterimage cache eval`: the server's lookup decision on labelled pairs, at the threshold and
/// guard strictness in force for a namespace and model (run-time settings included).
struct CacheEval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Measure hits and false hits on labelled prompt pairs (JSONL: a, b, same, kind).")

    @OptionGroup var options: ConfigOptions
    @Option(help: "Pairs file, one {\"a\", \"b\", \"same\", \"kind\"} object per line.") var pairs: String
    @Option(help: "Similarity threshold (default: the one in force for --namespace and --model).") var threshold: Float?
    @Option(help: "Namespace whose settings apply (default: none, i.e. the global ones).") var namespace: String?
    @Option(help: "Model whose settings apply (default: none).") var model: String?
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "List the pairs decided wrongly.") var verbose = false

    func run() async throws {
        let configuration = try options.load()
        let embedder = try EmbedderFactory.make(configuration.embedder)
        let vocabulary = try GuardVocabulary.load(settings: configuration.cache)
        let matcher = CacheMatcher(vocabulary: vocabulary, embedder: embedder, wordSimilarity: configuration.cache.wordSimilarity)
        guard let data = FileManager.default.contents(atPath: pairs) else { throw ValidationError("cannot read \(pairs)") }
        let list: [CacheEvaluation.Pair]
        do { list = try CacheEvaluation.loadPairs(data, name: pairs) } catch let error as AfterimageError { throw ValidationError(error.message) }
        let stores = try await Stores.open(configuration)
        let tuner = CacheTuner(base: configuration.cache, store: stores.cacheSettings, log: stores.lookupLog, logger: Logger(label: "afterimage.eval"))
        let settings = await tuner.resolve(namespace: namespace ?? "", model: model ?? "")
        let chosen = threshold ?? settings.threshold
        let evaluation = try await Embed.using(embedder) { try await CacheEvaluation(pairs: list, matcher: matcher, settings: settings) }
        if verbose {
            for (pair, judgement) in zip(evaluation.pairs, evaluation.judgements) where judgement.served(at: chosen) != pair.same {
                let verdict = judgement.refusal(at: chosen).map(\.description) ?? "cos \(judgement.similarity)"
                FileHandle.standardError.write(Data("\(pair.same ? "missed" : "FALSE HIT") [\(pair.kind ?? "-")] \(verdict): \(pair.a) || \(pair.b)\n".utf8))
            }
        }
        let main = evaluation.summary(at: chosen)
        if json {
            print(String(decoding: try JSONEncoder.afterimage.encode(main.json), as: UTF8.self))
            return
        }
        print("pairs \(main.pairs) (same \(main.same), different \(main.different)); embedder \(embedder.modelID); word similarity \(settings.wordSimilarity)")
        print(String(format: "threshold %.3f: recall %.3f (%d/%d), false-hit rate %.3f (%d/%d), precision %.3f", chosen, main.recall, main.hits, main.same, main.falseHitRate, main.falseHits, main.different, main.precision))
        print("\nkind               pairs  hits")
        for (kind, counts) in main.perKind.sorted(by: { $0.key < $1.key }) {
            print(kind.padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: " %5d %5d", counts.pairs, counts.hits))
        }
        print("\nthreshold  recall  false-hit rate  precision")
        for t: Float in [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99] {
            let s = evaluation.summary(at: t)
            print(String(format: "%9.2f  %6.3f  %14.3f  %9.3f", t, s.recall, s.falseHitRate, s.precision))
        }
    }
}
