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

/// The lowest threshold whose false-hit rate on labelled lookups stays within a bound.
public struct ThresholdSuggestion: Sendable {
    public var maxFalseHitRate: Double
    public var labelled = 0
    public var same = 0
    public var different = 0
    public var threshold: Float?
    public var falseHitRate: Double?
    /// Share of labelled `same` lookups served at the suggestion.
    public var recall: Double?
    /// Share of all logged lookups served at the suggestion.
    public var expectedHitRate: Double?

    public init(maxFalseHitRate: Double, labelled entries: [LookupLogEntry], all: [LookupLogEntry]) {
        self.maxFalseHitRate = maxFalseHitRate
        let judged = entries.filter { $0.label != nil }
        labelled = judged.count
        same = judged.filter { $0.label == .same }.count
        different = labelled - same
        guard labelled > 0 else { return }
        // Candidate thresholds: every logged similarity (a hit needs similarity ≥ t), lowest first.
        let candidates = Set(judged.compactMap(\.similarity) + [1.0]).sorted()
        for t in candidates {
            let falseHits = judged.filter { $0.label == .different && $0.wouldHit(at: t) }.count
            let rate = different == 0 ? 0 : Double(falseHits) / Double(different)
            guard rate <= maxFalseHitRate else { continue }
            threshold = t
            falseHitRate = rate
            let hits = judged.filter { $0.label == .same && $0.wouldHit(at: t) }.count
            recall = same == 0 ? nil : Double(hits) / Double(same)
            expectedHitRate = all.isEmpty ? nil : Double(all.filter { $0.wouldHit(at: t) }.count) / Double(all.count)
            return
        }
    }

    public var json: JSONValue {
        func number(_ value: Double?) -> JSONValue { value.map { .number(($0 * 1e6).rounded() / 1e6) } ?? .null }
        return .object([
            "object": "cache.threshold_suggestion", "max_false_hit_rate": .number(maxFalseHitRate),
            "labelled": .integer(Int64(labelled)), "same": .integer(Int64(same)), "different": .integer(Int64(different)),
            "threshold": number(threshold.map(Double.init)), "false_hit_rate": number(falseHitRate), "recall": number(recall),
            "expected_hit_rate": number(expectedHitRate),
        ])
    }
}
