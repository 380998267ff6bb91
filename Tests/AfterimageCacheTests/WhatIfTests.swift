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

    @Test func suggestionIsTheLowestThresholdWithinTheFalseHitBound() {
        let labelled = [
            entry(1, similarity: 0.97, label: "same"),
            entry(2, similarity: 0.91, label: "different"),   // a false hit unless t > 0.91
            entry(3, similarity: 0.93, label: "same"),
            entry(4, similarity: 0.86, label: "same"),
            entry(5, similarity: 0.99, refused: "numbers", label: "different"), // refused by the guard: never served
        ]
        let all = labelled + [entry(6, similarity: 0.95), entry(7, similarity: 0.5)]
        let strict = ThresholdSuggestion(maxFalseHitRate: 0, labelled: labelled, all: all)
        #expect(strict.threshold == 0.93 && strict.falseHitRate == 0)
        #expect(strict.recall == 2.0 / 3.0)
        #expect(strict.expectedHitRate == 3.0 / 7.0)
        let lenient = ThresholdSuggestion(maxFalseHitRate: 0.5, labelled: labelled, all: all)
        #expect(lenient.threshold == 0.86 && lenient.recall == 1)
        #expect(ThresholdSuggestion(maxFalseHitRate: 0, labelled: [], all: all).threshold == nil)
    }
}
