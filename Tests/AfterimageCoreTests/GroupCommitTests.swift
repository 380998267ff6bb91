import AfterimageCore
import Synchronization
import Testing

/// `GroupCommit`: every row is written exactly once; rows that arrive while a
/// batch is written go together in the next one; each submitter learns its own batch's outcome.
struct GroupCommitTests {
    final class Batches: Sendable {
        let written = Mutex<[[Int]]>([])
    }

    @Test func concurrentRowsAreGroupedAndEachIsWrittenOnce() async throws {
        let batches = Batches()
        let commits = GroupCommit<Int>(maxBatch: 8) { batch in
            batches.written.withLock { $0.append(batch) }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for row in 0..<50 { group.addTask { try await commits.submit(row) } }
            try await group.waitForAll()
        }
        let written = batches.written.withLock { $0 }
        #expect(written.flatMap { $0 }.sorted() == Array(0..<50))
        #expect(written.allSatisfy { $0.count <= 8 })
        // Grouped: far fewer commits than rows.
        #expect(written.count < 25)
    }

    @Test func aFailedBatchFailsOnlyItsRowsAndTheNextRowIsWritten() async throws {
        let batches = Batches()
        let commits = GroupCommit<Int> { batch in
            if batch.contains(-1) { throw CancellationError() }
            batches.written.withLock { $0.append(batch) }
        }
        await #expect(throws: CancellationError.self) { try await commits.submit(-1) }
        try await commits.submit(1)
        try await commits.submit(2)
        #expect(batches.written.withLock { $0 } == [[1], [2]])
    }
}
