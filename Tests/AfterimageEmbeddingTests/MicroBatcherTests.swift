import AfterimageCore
@testable import AfterimageEmbedding
import Foundation
import Synchronization
import Testing

/// The micro-batcher's lane use, with a fake encoder (no model needed). No test depends on
/// timing: passes wait for each other with generous timeouts, so a loaded machine only slows
/// them down, while a wrong lane choice makes a wait run out.
@Suite struct MicroBatcherTests {
    /// Counts passes running at once, remembers the largest overlap and every pass's size, and
    /// holds passes until told (or until `timeout`).
    final class Probe: Sendable {
        private let state = Mutex((running: 0, most: 0, sizes: [Int](), held: Set<String>(), released: Set<String>()))
        let timeout: Double = 20
        var most: Int { state.withLock { $0.most } }
        var sizes: [Int] { state.withLock { $0.sizes } }
        func isHeld(_ text: String) -> Bool { state.withLock { $0.held.contains(text) } }
        func release(_ text: String) { state.withLock { _ = $0.released.insert(text) } }

        /// A pass: `hold` keeps it running until `release(hold)`; `awaitCompany` keeps it until
        /// another pass runs beside it.
        func encode(_ texts: [String], hold: String? = nil, awaitCompany: Bool = false) -> [Embedding] {
            state.withLock { $0.running += 1; $0.most = max($0.most, $0.running); $0.sizes.append(texts.count) }
            if let hold { state.withLock { _ = $0.held.insert(hold) } }
            let start = Date()
            while Date().timeIntervalSince(start) < timeout {
                let done = state.withLock { state in
                    (hold.map { state.released.contains($0) } ?? true) && (!awaitCompany || state.most >= 2)
                }
                if done { break }
                Thread.sleep(forTimeInterval: 0.001)
            }
            state.withLock { state in
                state.running -= 1
                if let hold { state.held.remove(hold) }
            }
            return texts.map { Embedding(vector: [Float($0.count)], tokenCount: $0.count) }
        }
    }

    static func waitUntil(_ condition: () -> Bool) async throws {
        let start = Date()
        while !condition(), Date().timeIntervalSince(start) < 20 { try await Task.sleep(for: .milliseconds(1)) }
    }

    /// A call that arrives while one lane is busy runs on the other, also after that other lane
    /// has served and gone idle: lanes were once picked in turn, so the third call below queued
    /// behind the held pass on the busy lane while the second lane idled.
    @Test func callsGoToTheIdleLaneNotTheNextInTurn() async throws {
        let probe = Probe()
        let batcher = MicroBatcher(executor: EmbeddingExecutor(workers: 2, label: "test.lanes"), maxSequences: 8) { texts in
            probe.encode(texts, hold: texts == ["long"] ? "long" : nil)
        }
        async let long = batcher.embed(["long"])
        try await Self.waitUntil { probe.isHeld("long") }
        _ = await batcher.embed(["b"])
        let third = await batcher.embed(["c"])
        // Answered while the first pass is still held: it ran on the other lane.
        #expect(probe.isHeld("long"), "the third call waited for the held pass")
        #expect(third.map(\.tokenCount) == [1])
        probe.release("long")
        #expect(await long.map(\.tokenCount) == [4])
    }

    /// A burst of callers uses both lanes at once, each call is encoded once, every caller gets
    /// its own answer.
    @Test func burstUsesBothLanesAndAnswersEveryCaller() async throws {
        let probe = Probe()
        let batcher = MicroBatcher(executor: EmbeddingExecutor(workers: 2, label: "test.burst"), maxSequences: 32) { texts in
            probe.encode(texts, awaitCompany: true)
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
        #expect(probe.most == 2, "no two passes ran at once")
        #expect(batcher.statistics.sequences == 16)
    }

    /// One lane: never two passes at once, and a large call is split into passes of at most
    /// `maxSequences`.
    @Test func oneLaneRunsOnePassAtATime() async throws {
        let probe = Probe()
        let batcher = MicroBatcher(executor: EmbeddingExecutor(workers: 1, label: "test.one"), maxSequences: 4) { texts in
            probe.encode(texts)
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
