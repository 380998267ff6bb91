import AfterimageCache
import AfterimageCore
import AfterimageEmbedding
import AfterimageServer
import ArgumentParser
import Foundation

/// `afterimage cache eval`: the real lookup decision on labelled pairs.
struct CacheEval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Measure hits and false hits on labelled prompt pairs (JSONL: a, b, same, kind).")

    @OptionGroup var options: ConfigOptions
    @Option(help: "Pairs file, one {\"a\", \"b\", \"same\", \"kind\"} object per line.") var pairs: String
    @Option(help: "Similarity threshold (default: cache.threshold).") var threshold: Float?
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "List the pairs decided wrongly.") var verbose = false

    struct Pair: Decodable {
        var a: String
        var b: String
        var same: Bool
        var kind: String?
    }

    func run() async throws {
        let configuration = try options.load()
        let embedder = try EmbedderFactory.make(configuration.embedder)
        let vocabulary = try GuardVocabulary.load(directory: configuration.cache.vocabularyDirectory)
        let matcher = CacheMatcher(vocabulary: vocabulary, embedder: embedder, wordSimilarity: configuration.cache.wordSimilarity)
        guard let data = FileManager.default.contents(atPath: pairs) else { throw ValidationError("cannot read \(pairs)") }
        let list = try String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated().map { number, line in
            do { return try JSONDecoder().decode(Pair.self, from: Data(line.utf8)) } catch {
                throw ValidationError("\(pairs):\(number + 1): not a pair object")
            }
        }
        let chosen = threshold ?? configuration.cache.threshold
        var decisions = [(pair: Pair, similarity: Float, guardAllows: Bool)]()
        for pair in list {
            // Decide at threshold 0 to learn the guard's verdict and the cosine, then apply thresholds.
            let decision = try await matcher.decide(cached: pair.a, incoming: pair.b, threshold: 0)
            decisions.append((pair, decision.similarity, decision.hit))
            if verbose, decision.hit != pair.same || (decision.hit && decision.similarity < chosen && pair.same) {
                let verdict = decision.hit ? "cos \(decision.similarity)" : (decision.rule ?? "?")
                FileHandle.standardError.write(Data("\(pair.same ? "missed" : "FALSE HIT") [\(pair.kind ?? "-")] \(verdict): \(pair.a) || \(pair.b)\n".utf8))
            }
        }
        func summary(_ t: Float) -> EvalSummary {
            EvalSummary(threshold: t, decisions: decisions.map { ($0.pair.same, $0.pair.kind ?? "unknown", $0.guardAllows && $0.similarity >= t) })
        }
        let main = summary(chosen)
        if json {
            print(String(decoding: try JSONEncoder.afterimage.encode(main.json), as: UTF8.self))
            return
        }
        print("pairs \(main.pairs) (same \(main.same), different \(main.different)); embedder \(embedder.modelID)")
        print(String(format: "threshold %.3f: recall %.3f (%d/%d), false-hit rate %.3f (%d/%d), precision %.3f", chosen, main.recall, main.hits, main.same, main.falseHitRate, main.falseHits, main.different, main.precision))
        print("\nkind               pairs  hits")
        for (kind, counts) in main.perKind.sorted(by: { $0.key < $1.key }) {
            print(kind.padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: " %5d %5d", counts.pairs, counts.hits))
        }
        print("\nthreshold  recall  false-hit rate  precision")
        for t: Float in [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99] {
            let s = summary(t)
            print(String(format: "%9.2f  %6.3f  %14.3f  %9.3f", t, s.recall, s.falseHitRate, s.precision))
        }
    }
}

/// Hit and false-hit counts of an evaluation at one threshold.
struct EvalSummary {
    var threshold: Float
    var pairs = 0, same = 0, different = 0, hits = 0, falseHits = 0
    var perKind: [String: (pairs: Int, hits: Int)] = [:]

    init(threshold: Float, decisions: [(same: Bool, kind: String, served: Bool)]) {
        self.threshold = threshold
        for decision in decisions {
            pairs += 1
            if decision.same { same += 1 } else { different += 1 }
            if decision.served && decision.same { hits += 1 }
            if decision.served && !decision.same { falseHits += 1 }
            var counts = perKind[decision.kind] ?? (0, 0)
            counts.pairs += 1
            if decision.served { counts.hits += 1 }
            perKind[decision.kind] = counts
        }
    }

    var recall: Double { same == 0 ? 0 : Double(hits) / Double(same) }
    var falseHitRate: Double { different == 0 ? 0 : Double(falseHits) / Double(different) }
    var precision: Double { hits + falseHits == 0 ? 1 : Double(hits) / Double(hits + falseHits) }

    var json: JSONValue {
        func rate(_ value: Double) -> JSONValue { .number((value * 1_000_000).rounded() / 1_000_000) }
        return .object([
            "threshold": .number(Double(threshold)), "pairs": .integer(Int64(pairs)), "same_pairs": .integer(Int64(same)),
            "different_pairs": .integer(Int64(different)), "hits": .integer(Int64(hits)), "false_hits": .integer(Int64(falseHits)),
            "recall": rate(recall), "false_hit_rate": rate(falseHitRate), "precision": rate(precision),
            "per_kind": .object(perKind.mapValues { .object(["pairs": .integer(Int64($0.pairs)), "hits": .integer(Int64($0.hits))]) }),
        ])
    }
}
