import AfterimageCore
import Foundation

/// A replay of logged semantic lookups at another threshold: what would be served and saved,
/// against what was, and which lookups flip. Each lookup is judged on its nearest candidate and
/// the guard's recorded verdict on it.
public struct WhatIf: Sendable {
    public var threshold: Float
    public var lookups = 0
    public var hitsNow = 0
    public var hitsAtThreshold = 0
    public var savedNow = Money.zero
    public var savedAtThreshold = Money.zero
    /// Lookups that would become hits (`gained`) or misses (`lost`) at the threshold.
    public var gained: [LookupLogEntry] = []
    public var lost: [LookupLogEntry] = []

    public init(threshold: Float, entries: [LookupLogEntry]) {
        self.threshold = threshold
        for entry in entries {
            lookups += 1
            let now = entry.decision == .semantic
            let then = entry.wouldHit(at: threshold)
            if now {
                hitsNow += 1
                savedNow += entry.candidateCost ?? .zero
            }
            if then {
                hitsAtThreshold += 1
                savedAtThreshold += entry.candidateCost ?? .zero
            }
            if then && !now { gained.append(entry) }
            if now && !then { lost.append(entry) }
        }
    }

    public var json: JSONValue {
        func rate(_ hits: Int) -> JSONValue { lookups == 0 ? .null : .number((Double(hits) / Double(lookups) * 10_000).rounded() / 10_000) }
        return .object([
            "object": "cache.what_if", "threshold": .number((Double(threshold) * 1e6).rounded() / 1e6), "lookups": .integer(Int64(lookups)),
            "current": .object(["hits": .integer(Int64(hitsNow)), "misses": .integer(Int64(lookups - hitsNow)), "hit_rate": rate(hitsNow), "saved_usd": .string(savedNow.usdString)]),
            "at_threshold": .object([
                "hits": .integer(Int64(hitsAtThreshold)), "misses": .integer(Int64(lookups - hitsAtThreshold)),
                "hit_rate": rate(hitsAtThreshold), "saved_usd": .string(savedAtThreshold.usdString),
            ]),
            "would_become_hits": .array(gained.map(\.json)),
            "would_become_misses": .array(lost.map(\.json)),
        ])
    }
}

/// The lowest threshold whose false-hit rate (false hits among lookups labelled `different`) is
/// below `maxFalseHitRate` with `confidence`, by an exact binomial (Clopper–Pearson) upper bound —
/// not the in-sample optimum. With too few labels for any threshold, it says how many more
/// `different` labels it needs (none of them served at the strictest candidate).
public struct ThresholdSuggestion: Sendable {
    public var maxFalseHitRate: Double
    public var confidence: Double
    public var labelled = 0
    public var same = 0
    public var different = 0
    public var threshold: Float?
    /// Observed false-hit rate at the suggestion.
    public var falseHitRate: Double?
    /// The 95% (or `confidence`) upper bound of the false-hit rate at the suggestion.
    public var falseHitUpperBound: Double?
    /// More `different` labels needed before any threshold qualifies (nil once one does).
    public var moreLabelsNeeded: Int?
    /// Share of labelled `same` lookups served at the suggestion.
    public var recall: Double?
    /// Share of all logged lookups served at the suggestion.
    public var expectedHitRate: Double?

    public init(maxFalseHitRate: Double, confidence: Double = 0.95, labelled entries: [LookupLogEntry], all: [LookupLogEntry]) {
        self.maxFalseHitRate = maxFalseHitRate
        self.confidence = confidence
        let judged = entries.filter { $0.label != nil }
        labelled = judged.count
        same = judged.filter { $0.label == .same }.count
        different = labelled - same
        // Candidate thresholds: every logged similarity (a hit needs similarity ≥ t), lowest first.
        let candidates = Set(judged.compactMap(\.similarity).filter { $0.isFinite } + [1.0]).sorted()
        let differentOnes = judged.filter { $0.label == .different }
        var strictestFalseHits = 0
        for t in candidates {
            let falseHits = differentOnes.filter { $0.wouldHit(at: t) }.count
            strictestFalseHits = falseHits
            let bound = BinomialBound.upper(events: falseHits, trials: different, confidence: confidence)
            guard bound < maxFalseHitRate else { continue }
            threshold = t
            falseHitRate = Double(falseHits) / Double(different)
            falseHitUpperBound = bound
            let hits = judged.filter { $0.label == .same && $0.wouldHit(at: t) }.count
            recall = same == 0 ? nil : Double(hits) / Double(same)
            expectedHitRate = all.isEmpty ? nil : Double(all.filter { $0.wouldHit(at: t) }.count) / Double(all.count)
            return
        }
        let needed = BinomialBound.trialsNeeded(events: strictestFalseHits, target: maxFalseHitRate, confidence: confidence)
        moreLabelsNeeded = needed.map { max(1, $0 - different) }
    }

    public var json: JSONValue {
        func number(_ value: Double?) -> JSONValue { value.map { .number(($0 * 1e6).rounded() / 1e6) } ?? .null }
        return .object([
            "object": "cache.threshold_suggestion", "max_false_hit_rate": .number(maxFalseHitRate), "confidence": .number(confidence),
            "method": "clopper_pearson_upper_bound",
            "labelled": .integer(Int64(labelled)), "same": .integer(Int64(same)), "different": .integer(Int64(different)),
            "threshold": number(threshold.map(Double.init)), "false_hit_rate": number(falseHitRate),
            "false_hit_upper_bound": number(falseHitUpperBound),
            "more_different_labels_needed": moreLabelsNeeded.map { .integer(Int64($0)) } ?? .null,
            "recall": number(recall), "expected_hit_rate": number(expectedHitRate),
        ])
    }
}
