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
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Measure hits and false hits on labelled prompt pairs (JSONL: a, b, same, kind).", discussion: "EXAMPLES\n  afterimage cache eval --pairs ../shared/cache-pairs/public.jsonl\n  afterimage cache eval --pairs labels.jsonl --threshold 0.9 --output json\n  afterimage cache eval --pairs labels.jsonl --folds 5")

    @OptionGroup var options: ConfigOptions
    @Option(help: "Pairs file, one {\"a\", \"b\", \"same\", \"kind\"} object per line.") var pairs: String
    @Option(help: "Similarity threshold (default: the one in force for --namespace and --model).") var threshold: Float?
    @Option(help: "Namespace whose settings apply (default: none, i.e. the global ones).") var namespace: String?
    @Option(help: "Model whose settings apply (default: none).") var model: String?
    @OptionGroup var output: OutputOptions
    @Flag(help: "List the pairs decided wrongly.") var verbose = false
    @Option(help: "Cross-validate over K folds by base scene (2-20): held-out beside in-sample figures.") var folds: Int?
    @Option(help: "With --folds: the settings to tune, comma-separated (threshold, word_similarity, hypernym_depth, one_sided_verbs).")
    var tune = "threshold,word_similarity,hypernym_depth,one_sided_verbs"

    func run() async throws {
        let configuration = try options.load()
        let embedder = try EmbedderFactory.make(configuration.embedder)
        let vocabulary = try GuardVocabulary.load(settings: configuration.cache)
        let matcher = CacheMatcher(vocabulary: vocabulary, embedder: embedder, wordSimilarity: configuration.cache.wordSimilarity)
        guard let data = FileManager.default.contents(atPath: pairs) else { throw ValidationError("cannot read \(pairs)") }
        let list: [CacheEvaluation.Pair]
        do { list = try CacheEvaluation.loadPairs(data, name: pairs) } catch let error as AfterimageError { throw ValidationError(error.message) }
        let settings = try await Self.settings(configuration, namespace: namespace ?? "", model: model ?? "")
        let chosen = threshold ?? settings.threshold
        if let folds {
            let base = CrossValidation.Setting(
                threshold: chosen, wordSimilarity: settings.wordSimilarity,
                hypernymDepth: configuration.cache.hypernymDepth, oneSidedVerbs: configuration.cache.oneSidedVerbs
            )
            let names = Set(tune.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
            do {
                let grid = try CrossValidation.Grid(tuning: names, base: base)
                let bar = ProgressBar.forTerminal()
                let validation = try await Embed.using(embedder) {
                    try await CrossValidation.run(pairs: list, folds: folds, grid: grid, vocabulary: vocabulary, embedder: embedder) { phase, done, total in
                        bar.update(phase, done, total)
                    }
                }
                bar.finish()
                try printValidation(validation)
            } catch let error as AfterimageError {
                throw ValidationError(error.message)
            }
            return
        }
        let bar = ProgressBar.forTerminal()
        let evaluation = try await Embed.using(embedder) {
            try await CacheEvaluation(pairs: list, matcher: matcher, settings: settings) { done, total in bar.update("pairs", done, total) }
        }
        bar.finish()
        if verbose {
            for (pair, judgement) in zip(evaluation.pairs, evaluation.judgements) where judgement.served(at: chosen) != pair.same {
                let verdict = judgement.refusal(at: chosen).map(\.description) ?? "cos \(judgement.similarity)"
                FileHandle.standardError.write(Data("\(pair.same ? "missed" : "FALSE HIT") [\(pair.kind ?? "-")] \(verdict): \(pair.a) || \(pair.b)\n".utf8))
            }
        }
        let main = evaluation.summary(at: chosen)
        guard output.emitUnlessTable(main.json) else { return }
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

    /// The settings in force, run-time ones included. A SQLite data directory without a database
    /// holds no run-time settings: the configured ones apply and nothing is created.
    static func settings(_ configuration: AfterimageConfiguration, namespace: String, model: String) async throws -> TunedSettings {
        let database = configuration.dataDirectoryURL.appendingPathComponent("afterimage.sqlite").path
        if configuration.storage.backend == .sqlite, !FileManager.default.fileExists(atPath: database) {
            return TunedSettings(threshold: configuration.cache.threshold(for: namespace), wordSimilarity: configuration.cache.wordSimilarity)
        }
        let stores = try await Stores.open(configuration)
        defer { stores.close() }
        let tuner = CacheTuner(base: configuration.cache, store: stores.cacheSettings, log: stores.lookupLog, logger: Logger(label: "afterimage.eval"))
        return await tuner.resolve(namespace: namespace, model: model)
    }

    func printValidation(_ validation: CrossValidation) throws {
        func object(_ figures: CrossValidation.Figures) -> JSONValue {
            .object([
                "same_pairs": .integer(Int64(figures.same)), "different_pairs": .integer(Int64(figures.different)),
                "hits": .integer(Int64(figures.hits)), "false_hits": .integer(Int64(figures.falseHits)),
                "recall": .number((figures.recall * 1e6).rounded() / 1e6),
                "per_kind": .object(figures.perKind.mapValues { .object(["pairs": .integer(Int64($0.pairs)), "hits": .integer(Int64($0.hits))]) }),
            ])
        }
        let result: JSONValue = .object([
            "folds": .integer(Int64(validation.folds)), "held_out": object(validation.heldOut), "in_sample": object(validation.inSample),
            "in_sample_setting": .string(validation.inSampleSetting.description),
            "chosen_per_fold": .array(validation.chosen.map { .string($0.description) }),
        ])
        guard output.emitUnlessTable(result) else { return }
        print("\(validation.folds)-fold cross-validation by base scene over \(validation.assignment.count) pairs")
        for (fold, setting) in validation.chosen.enumerated() {
            print("fold \(fold + 1) (\(validation.assignment.filter { $0 == fold }.count) pairs): chosen on the others: \(setting)")
        }
        print("in-sample choice: \(validation.inSampleSetting)\n")
        print("                 recall            false hits")
        for (name, figures) in [("held-out", validation.heldOut), ("in-sample", validation.inSample)] {
            print(name.padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: " %.3f (%d/%d)     %d/%d", figures.recall, figures.hits, figures.same, figures.falseHits, figures.different))
        }
        print("\nkind               pairs  held-out hits  in-sample hits")
        for (kind, counts) in validation.heldOut.perKind.sorted(by: { $0.key < $1.key }) {
            let inSample = validation.inSample.perKind[kind]?.hits ?? 0
            print(kind.padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: " %5d  %13d  %14d", counts.pairs, counts.hits, inSample))
        }
    }
}
