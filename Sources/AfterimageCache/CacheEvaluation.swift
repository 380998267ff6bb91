import AfterimageCore
import Foundation

/// `afterimage cache eval`: labelled prompt pairs judged exactly as the server judges a lookup
/// (`CacheMatcher.judge` + `CacheDecision.serves`) at the settings in force.
public struct CacheEvaluation: Sendable {
    /// One labelled pair: `a` is cached, `b` looks it up; `same` says whether `b` may be served `a`'s image.
    public struct Pair: Codable, Sendable, Equatable {
        public var a: String
        public var b: String
        public var same: Bool
        public var kind: String?

        public init(a: String, b: String, same: Bool, kind: String? = nil) {
            self.a = a
            self.b = b
            self.same = same
            self.kind = kind
        }
    }

    public var pairs: [Pair]
    public var judgements: [PairJudgement]

    /// Reads a JSONL pairs file; a bad line is an error naming it.
    public static func loadPairs(_ data: Data, name: String) throws -> [Pair] {
        try String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated().map { number, line in
            do { return try JSONDecoder().decode(Pair.self, from: Data(line.utf8)) } catch {
                throw AfterimageError.invalidPayload("\(name):\(number + 1): not a pair object")
            }
        }
    }

    /// Judges every pair with the guard strictness in force; `progress` gets (done, total) after each.
    public init(pairs: [Pair], matcher: CacheMatcher, settings: TunedSettings, progress: (Int, Int) -> Void = { _, _ in }) async throws {
        self.pairs = pairs
        var judgements = [PairJudgement]()
        for pair in pairs {
            judgements.append(try await matcher.judge(cached: pair.a, incoming: pair.b, wordSimilarity: settings.wordSimilarity))
            progress(judgements.count, pairs.count)
        }
        self.judgements = judgements
    }

    /// Counts at `threshold`.
    public func summary(at threshold: Float) -> EvalSummary {
        EvalSummary(threshold: threshold, decisions: zip(pairs, judgements).map { ($0.same, $0.kind ?? "unknown", $1.served(at: threshold)) })
    }
}

/// Hit and false-hit counts of an evaluation at one threshold.
public struct EvalSummary: Sendable {
    public var threshold: Float
    public var pairs = 0, same = 0, different = 0, hits = 0, falseHits = 0
    public var perKind: [String: (pairs: Int, hits: Int)] = [:]

    public init(threshold: Float, decisions: [(same: Bool, kind: String, served: Bool)]) {
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

    public var recall: Double { same == 0 ? 0 : Double(hits) / Double(same) }
    public var falseHitRate: Double { different == 0 ? 0 : Double(falseHits) / Double(different) }
    public var precision: Double { hits + falseHits == 0 ? 1 : Double(hits) / Double(hits + falseHits) }

    public var json: JSONValue {
        func rate(_ value: Double) -> JSONValue { .number((value * 1_000_000).rounded() / 1_000_000) }
        return .object([
            "threshold": .number(Double(threshold)), "pairs": .integer(Int64(pairs)), "same_pairs": .integer(Int64(same)),
            "different_pairs": .integer(Int64(different)), "hits": .integer(Int64(hits)), "false_hits": .integer(Int64(falseHits)),
            "recall": rate(recall), "false_hit_rate": rate(falseHitRate), "precision": rate(precision),
            "per_kind": .object(perKind.mapValues { .object(["pairs": .integer(Int64($0.pairs)), "hits": .integer(Int64($0.hits))]) }),
        ])
    }
}
