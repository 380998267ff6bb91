import AfterimageCore
@testable import AfterimageEmbedding
import Foundation
import Synchronization
import Testing

/// The micro-batcher's lane use, with a fake encoder (no model needed): passes run on distinct
/// free lanes at once, a burst shares passes over both lanes.
@Suite struct MicroBatcherTests {
    /// Counts passes running at once and remembers the largest overlap and every pass's size.
    final class Probe: Sendable {
        private let state = Mutex((running: 0, most: 0, sizes: [Int]()))
        var most: Int { state.withLock { $0.most } }
        var sizes: [Int] { state.withLock { $0.sizes } }

        func encode(_ texts: [String], holding seconds: Double) -> [Embedding] {
            state.withLock { $0.running += 1; $0.most = max($0.most, $0.running); $0.sizes.append(texts.count) }
            Thread.sleep(forTimeInterval: seconds)
            state.withLock { $0.running -= 1 }
            return texts.map { Embedding(vector: [Float($0.count)], tokenCount: $0.count) }
        }
    }

    /// A call that arrives while one lane is busy runs on the other, also after that other lane
    /// has served and gone idle: lanes were once picked in turn, so the third call below queued
    /// behind the long pass on the busy lane while the second lane idled.
    @Test func callsGoToTheIdleLaneNotTheNextInTurn() async throws {
        let probe = Probe()
        let batcher = MicroBatcher(executor: EmbeddingExecutor(workers: 2, label: "test.lanes"), maxSequences: 8) { texts in
            probe.encode(texts, holding: texts == ["long"] ? 0.4 : 0.005)
        }
        let clock = ContinuousClock()
        let started = clock.now
        async let long = batcher.embed(["long"])
        try await Task.sleep(for: .milliseconds(20))
        _ = await batcher.embed(["b"])
        let third = await batcher.embed(["c"])
        let thirdDone = clock.now - started
        #expect(third.map(\.tokenCount) == [1])
        #expect(thirdDone < .milliseconds(300), "the third call waited \(thirdDone) behind the long pass")
        #expect(await long.map(\.tokenCount) == [4])
        #expect(probe.most == 2)
    }

    /// A burst of callers uses both lanes, each queued call is encoded once, and every caller
    /// gets its own answer.
    @Test func burstUsesBothLanesAndAnswersEveryCaller() async throws {
        let probe = Probe()
        let batcher = MicroBatcher(executor: EmbeddingExecutor(workers: 2, label: "test.burst"), maxSequences: 32) { texts in
            probe.encode(texts, holding: 0.03)
        }
        let answers = await withTaskGroup(of: (Int, [Embedding]).self) { group in
            for caller in 0..<16 {
                group.addTask { (caller, await batcher.embed([String(repeating: "x", count: caller + 1)])) }
            }
            var answers = [Int: [Embedding]]()
            for await (caller, answer) in group { answers[caller] = answer }
            return answers
        }
        for caller in 0..<16 { #expect(answers[caller]?.map(\.tokenCount) == [caller + 1]) }
        #expect(probe.sizes.reduce(0, +) == 16)
        #expect(probe.most == 2)
        #expect(probe.sizes.count < 16, "no call shared a pass: \(probe.sizes)")
        #expect(batcher.statistics.sequences == 16)
    }

    /// One lane: never two passes at once, and a large call is split into passes of at most
    /// `maxSequences`.
    @Test func oneLaneRunsOnePassAtATime() async throws {
        let probe = Probe()
        let batcher = MicroBatcher(executor: EmbeddingExecutor(workers: 1, label: "test.one"), maxSequences: 4) { texts in
            probe.encode(texts, holding: 0.001)
        }
        async let big = batcher.embed((0..<10).map { String(repeating: "y", count: $0 + 1) })
        async let small = batcher.embed(["z"])
        let (many, one) = await (big, small)
        #expect(many.map(\.tokenCount) == Array(1...10))
        #expect(one.map(\.tokenCount) == [1])
        #expect(probe.most == 1)
        #expect(probe.sizes.allSatisfy { $0 <= 4 })
    }
}
