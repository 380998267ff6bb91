import AfterimageCore
@testable import AfterimageServer
import Foundation
import Testing

/// The in-flight body memory budget, without a server.
@Suite struct BodyMemoryBudgetTests {
    @Test func reservationsAreTwiceTheBodyAndNeverOverflow() {
        #expect(BodyMemoryBudget.reservation(declared: 1000, limit: 50 << 20) == 2000)
        #expect(BodyMemoryBudget.reservation(declared: nil, limit: 1 << 20) == 2 << 20)
        #expect(BodyMemoryBudget.reservation(declared: Int.max, limit: Int.max) == Int.max)
        #expect(BodyMemoryBudget.reservation(declared: -5, limit: 100) == 0)
    }

    @Test func waitersAreAdmittedInOrderAsMemoryIsReleased() async throws {
        let budget = BodyMemoryBudget(capacity: 100, maxWait: .seconds(30))
        let first = BodyMemoryBudget.Lease(budget)
        try await first.acquire(80)
        #expect(budget.reserved == 80)
        let second = BodyMemoryBudget.Lease(budget)
        let third = BodyMemoryBudget.Lease(budget)
        let secondIn = Task { try await second.acquire(60) }
        try await Task.sleep(for: .milliseconds(50))
        // A small request does not overtake the waiting one.
        let thirdIn = Task { try await third.acquire(10) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(budget.reserved == 80)
        first.release()
        try await secondIn.value
        try await thirdIn.value
        #expect(budget.reserved == 70)
        second.release()
        third.release()
        third.release()
        #expect(budget.reserved == 0)
        // More than the capacity is capped rather than waiting forever.
        let huge = BodyMemoryBudget.Lease(budget)
        try await huge.acquire(Int.max)
        #expect(budget.reserved == 100)
        huge.release()
    }

    @Test func aWaiterTimesOutWith503AndACancelledOneLeavesNoTrace() async throws {
        let budget = BodyMemoryBudget(capacity: 100, maxWait: .milliseconds(200))
        let holder = BodyMemoryBudget.Lease(budget)
        try await holder.acquire(100)
        do {
            try await BodyMemoryBudget.Lease(budget).acquire(50)
            Issue.record("expected server_busy")
        } catch let error as AfterimageError {
            #expect(error.statusCode == 503 && error.code.rawValue == "server_busy" && error.retryAfterSeconds != nil)
        }
        let cancelled = Task { try await BodyMemoryBudget.Lease(budget).acquire(50) }
        try await Task.sleep(for: .milliseconds(20))
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        holder.release()
        #expect(budget.reserved == 0)
    }
}
