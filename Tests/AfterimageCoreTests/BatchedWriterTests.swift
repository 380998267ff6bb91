import AfterimageCore
import Foundation
import Synchronization
import Testing

/// The queue behind hit counters and the lookup log, and the bounded memo: what is queued is
/// written (in order, in batches), a failing store neither loses a batch nor grows memory past
/// the bound, and a flood of keys cannot grow a memo.
@Suite struct BatchedWriterTests {
    struct Down: Error {}

    final class Sink: Sendable {
        let written = Mutex<[[Int]]>([])
        let failing = Atomic<Bool>(false)
        func write(_ batch: [Int]) throws {
            if failing.load(ordering: .relaxed) { throw Down() }
            written.withLock { $0.append(batch) }
        }
        var all: [Int] { written.withLock { $0.flatMap { $0 } } }
    }

    @Test func queuedItemsAreWrittenInOrderAndInBatches() async {
        let sink = Sink()
        let writer = BatchedWriter<Int>(delay: .seconds(60), batchSize: 10, maxQueued: 100) { try sink.write($0) }
        for item in 0..<25 { writer.enqueue(item) }
        await writer.flush()
        #expect(sink.all == Array(0..<25))
        #expect(sink.written.withLock { $0.allSatisfy { $0.count <= 10 } })
        #expect(writer.backlog.queued == 0 && writer.backlog.dropped == 0)
    }

    @Test func aFailingStoreKeepsTheBatchAndBoundsTheQueue() async {
        let sink = Sink()
        sink.failing.store(true, ordering: .relaxed)
        let writer = BatchedWriter<Int>(delay: .seconds(60), batchSize: 10, maxQueued: 50) { try sink.write($0) }
        for item in 0..<80 { writer.enqueue(item) }
        await writer.flush()
        #expect(sink.all.isEmpty)
        #expect(writer.backlog.queued == 50, "a store that is down cannot grow the queue past its bound")
        #expect(writer.backlog.dropped == 30)
        sink.failing.store(false, ordering: .relaxed)
        await writer.flush()
        #expect(sink.all == Array(0..<50), "nothing queued is lost once the store is back, and order is kept")
    }

    @Test func hostileBoundsAreClamped() async {
        let sink = Sink()
        let writer = BatchedWriter<Int>(delay: .zero, batchSize: -5, maxQueued: Int.min) { try sink.write($0) }
        #expect(writer.batchSize == 1 && writer.maxQueued == 1)
        writer.enqueue(1)
        writer.enqueue(2)
        await writer.flush()
        #expect(sink.all.count + writer.backlog.dropped == 2)
    }

    @Test func aMemoStartsOverWhenFull() {
        let memo = BoundedMemo<String, Int>(capacity: 100)
        var made = 0
        for round in 0..<2 { for key in 0..<1_000 { _ = memo.value("k\(key)") { made += 1; return key + round } } }
        #expect(memo.count <= 100)
        #expect(memo.value("k999") { -1 } == 1_000, "the most recent keys are remembered (from the second round)")
        #expect(BoundedMemo<Int, Int>(capacity: -3).capacity == 1)
        #expect(made == 2_000)
    }
}
