import AfterimageCore
import AfterimageTesting
import Foundation
import Testing

/// `withDeadline` answers at its deadline whatever the work does, and passes results, errors and
/// the caller's cancellation through.
@Suite struct DeadlineTests {
    @Test func resultsAndErrorsPassThrough() async throws {
        #expect(try await withDeadline(.seconds(5)) { 42 } == 42)
        struct Boom: Error {}
        await #expect(throws: Boom.self) { try await withDeadline(.seconds(5)) { () async throws -> Int in throw Boom() } }
    }

    /// Work that ignores cancellation (as a call stuck on a dead connection can) no longer holds
    /// the caller past the deadline; it is cancelled and ends on its own later.
    @Test func workThatIgnoresCancellationDoesNotHoldTheCaller() async throws {
        let release = TestFlag()
        let ended = TestFlag()
        // Released by the test once answered, or after 60 s at the latest: a deadline that waited
        // for the work would be answered only after the work ended, which fails below instead of
        // hanging. No bound on the answer's time: a loaded 2-core CI pass (~300 tests at once)
        // once took 11 s to run a 100 ms timer, so "answered before the work ended" is the check.
        Task { try? await Task.sleep(for: .seconds(60)); release.set() }
        await #expect(throws: DeadlineExceeded.self) {
            try await withDeadline(.milliseconds(100)) {
                // A wait that cancellation cannot cut short (and that never spins a thread).
                while !release.isSet {
                    await withCheckedContinuation { (resume: CheckedContinuation<Void, Never>) in
                        DispatchQueue.global().asyncAfter(deadline: .now() + 0.01) { resume.resume() }
                    }
                }
                ended.set()
                return 1
            }
        }
        #expect(!ended.isSet, "answered at the deadline, not when the work ended")
        release.set()
        for _ in 0..<500 where !ended.isSet { try await Task.sleep(for: .milliseconds(10)) }
        #expect(ended.isSet, "the work still ends on its own")
    }

    @Test func cancellingTheCallerCancelsTheWork() async throws {
        let sawCancellation = TestFlag()
        let task = Task {
            try await withDeadline(.seconds(30)) {
                do { try await Task.sleep(for: .seconds(30)) } catch { sawCancellation.set(); throw error }
                return 0
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        for _ in 0..<200 where !sawCancellation.isSet { try await Task.sleep(for: .milliseconds(10)) }
        #expect(sawCancellation.isSet)
    }

    @Test func manyConcurrentDeadlinesResolveEachExactlyOnce() async throws {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<500 {
                group.addTask {
                    do {
                        return try await withDeadline(.milliseconds(index % 2 == 0 ? 1 : 1000)) {
                            try await Task.sleep(for: .milliseconds(index % 3 == 0 ? 0 : 5))
                            return 1
                        }
                    } catch is DeadlineExceeded {
                        return 0
                    }
                }
            }
            var answered = 0
            for try await _ in group { answered += 1 }
            #expect(answered == 500)
        }
    }
}
