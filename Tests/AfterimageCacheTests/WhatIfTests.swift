import AfterimageCache
import AfterimageCore
import Foundation
import Testing

@Suite struct WhatIfTests {
    func entry(_ id: Int64, similarity: Float?, refused: String? = nil, decision: String = "miss", threshold: Float = 0.85, cost: Int64 = 1000, label: String? = nil) -> LookupLogEntry {
        LookupLogEntry(
            id: id, createdAt: Date(), requestID: "req_\(id)", namespace: "ns", model: "gpt-image-1", prompt: "b\(id)", promptHash: "h",
            candidateID: similarity == nil ? nil : id + 100, candidatePrompt: "a\(id)", candidateHash: "ch", similarity: similarity,
            refusedBy: refused.map(GuardRefusal.init), decision: LookupDecision(rawValue: decision)!, threshold: threshold,
            candidateCost: Money(nanos: cost), label: label.flatMap(LookupLabel.init(rawValue:))
        )
    }

    @Test func replayAtAnotherThreshold() {
        let log = [
            entry(1, similarity: 0.95, decision: "semantic"),           // hit now, hit at 0.9, miss at 0.97
            entry(2, similarity: 0.88, decision: "semantic"),           // hit now, lost at 0.9
            entry(3, similarity: 0.80),                                 // gained at 0.8
            entry(4, similarity: 0.99, refused: "colours"),             // the guard refuses at any threshold
            entry(5, similarity: nil),                                  // empty partition
        ]
        let at90 = WhatIf(threshold: 0.9, entries: log)
        #expect(at90.lookups == 5 && at90.hitsNow == 2 && at90.hitsAtThreshold == 1)
        #expect(at90.lost.map(\.id) == [2] && at90.gained.isEmpty)
        #expect(at90.savedNow == Money(nanos: 2000) && at90.savedAtThreshold == Money(nanos: 1000))
        let at80 = WhatIf(threshold: 0.8, entries: log)
        #expect(at80.hitsAtThreshold == 3 && at80.gained.map(\.id) == [3] && at80.lost.isEmpty)
        #expect(at80.json["at_threshold"]?["saved_usd"] == "0.000003")
        #expect(at80.json["would_become_hits"]?.arrayValue?.first?["guard"] == "allowed")
    }

    /// `different` labels at `similarity`, served unless refused.
    func differentLabels(_ count: Int, similarity: Float, from id: Int64) -> [LookupLogEntry] {
        (0..<count).map { entry(id + Int64($0), similarity: similarity, label: "different") }
    }

    @Test func suggestionIsTheLowestThresholdWhoseUpperBoundIsBelowTheTarget() {
        // 80 different labels: 1 at 0.91 (a false hit unless t > 0.91), 79 at 0.5 (false hits below 0.5).
        let labelled = [
            entry(1, similarity: 0.97, label: "same"), entry(2, similarity: 0.91, label: "different"),
            entry(3, similarity: 0.93, label: "same"), entry(4, similarity: 0.86, label: "same"),
            entry(5, similarity: 0.99, refused: "numbers", label: "different"),   // refused by the guard: never served
        ] + differentLabels(78, similarity: 0.5, from: 100)
        let all = labelled + [entry(6, similarity: 0.95), entry(7, similarity: 0.5)]
        // At 0.86: 1 false hit in 80 → upper bound 0.058 (≥ 5%); at 0.93: 0 in 80 → 0.0367.
        let five = ThresholdSuggestion(maxFalseHitRate: 0.05, labelled: labelled, all: all)
        #expect(five.threshold == 0.93 && five.falseHitRate == 0)
        #expect(abs((five.falseHitUpperBound ?? 0) - (1 - pow(0.05, 1.0 / 80))) < 1e-9)
        #expect(five.recall == 2.0 / 3.0 && five.moreLabelsNeeded == nil)
        // A looser target accepts the observed false hit at 0.86.
        let ten = ThresholdSuggestion(maxFalseHitRate: 0.1, labelled: labelled, all: all)
        #expect(ten.threshold == 0.86 && ten.recall == 1)
        // 1% needs 299 different labels with none served: 80 are there, 219 more.
        let one = ThresholdSuggestion(maxFalseHitRate: 0.01, labelled: labelled, all: all)
        #expect(one.threshold == nil && one.moreLabelsNeeded == 299 - 80)
        #expect(one.json["more_different_labels_needed"] == 219)
        #expect(ThresholdSuggestion(maxFalseHitRate: 0.05, labelled: [], all: all).moreLabelsNeeded == 59)
    }

    /// Brute force: P(X ≤ x) summed term by term with exact binomial coefficients, and the bound
    /// found by scanning p upward in steps of 1e-5.
    @Test(arguments: [(0, 10), (0, 59), (1, 80), (3, 50), (7, 20), (12, 300), (0, 1), (4, 5)])
    func clopperPearsonMatchesABruteForceBinomial(_ x: Int, _ n: Int) {
        func bruteCDF(_ p: Double) -> Double {
            var total = 0.0, coefficient = 1.0
            for k in 0...x {
                if k > 0 { coefficient = coefficient * Double(n - k + 1) / Double(k) }
                total += coefficient * pow(p, Double(k)) * pow(1 - p, Double(n - k))
            }
            return total
        }
        var p = 0.0
        while p < 1, bruteCDF(p) > 0.05 { p += 1e-5 }
        let bound = BinomialBound.upper(events: x, trials: n, confidence: 0.95)
        #expect(abs(bound - p) < 2e-5, "x \(x) n \(n): \(bound) vs brute force \(p)")
        #expect(abs(BinomialBound.cdf(x, n, 0.3) - bruteCDF(0.3)) < 1e-9)
    }

    @Test func hostileBoundInputsNeverCrash() {
        #expect(BinomialBound.upper(events: 5, trials: 5, confidence: 0.95) == 1)
        #expect(BinomialBound.upper(events: -3, trials: 10, confidence: 0.95) == BinomialBound.upper(events: 0, trials: 10, confidence: 0.95))
        #expect(BinomialBound.upper(events: 0, trials: 0, confidence: 0.95) == 1)
        #expect(BinomialBound.upper(events: 0, trials: Int.max, confidence: 0.95) == 1)
        #expect(BinomialBound.upper(events: 1, trials: 10, confidence: .nan) == 1)
        #expect(BinomialBound.upper(events: 1, trials: 10, confidence: 7) <= 1)
        #expect(BinomialBound.trialsNeeded(events: 0, target: 0, confidence: 0.95) == nil)
        #expect(BinomialBound.trialsNeeded(events: 0, target: 1e-12, confidence: 0.95) == nil)
        #expect(BinomialBound.trialsNeeded(events: 0, target: 0.05, confidence: 0.95) == 59)
    }
}
