import AfterimageCore
import Foundation
import Synchronization

/// Bounds the memory request bodies may hold at once (`server.max_inflight_body_bytes`).
///
/// Before a body is read, its request reserves what it may hold: twice its declared
/// `Content-Length` (the parsed body plus its re-encoding for the upstream), or twice the body
/// limit when no length is declared. Reservations are whole (all or nothing, first come first
/// served), so requests waiting for memory hold none and cannot deadlock each other; a request
/// that waits longer than `server.body_memory_wait_seconds` gets 503 with `Retry-After`. While a
/// request waits its body is not read, so TCP backpressure holds the bytes at the client.
final class BodyMemoryBudget: Sendable {
    /// What one request holds; released once, when the request ends.
    final class Lease: Sendable {
        let budget: BodyMemoryBudget
        private let held = Mutex(0)

        init(_ budget: BodyMemoryBudget) {
            self.budget = budget
        }

        /// Reserves `bytes` (capped at the capacity); waits for other requests to release.
        func acquire(_ bytes: Int) async throws {
            let granted = try await budget.acquire(bytes)
            held.withLock { $0 += granted }
        }

        /// Gives back everything this lease holds (idempotent).
        func release() {
            let bytes = held.withLock { held in
                defer { held = 0 }
                return held
            }
            if bytes > 0 { budget.release(bytes) }
        }
    }

    private struct Waiter {
        let id: UInt64
        let bytes: Int
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var available: Int
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
    }

    let capacity: Int
    let maxWait: Duration
    private let state: Mutex<State>

    /// - Parameters:
    ///   - capacity: bytes all bodies together may reserve.
    ///   - maxWait: how long a request waits for memory before 503.
    init(capacity: Int, maxWait: Duration) {
        self.capacity = max(1, capacity)
        self.maxWait = maxWait
        self.state = Mutex(State(available: max(1, capacity)))
    }

    /// Bytes reserved now (for metrics and tests).
    var reserved: Int { capacity - state.withLock { $0.available } }

    /// What a body of `declared` bytes (or unknown length) under `limit` reserves.
    static func reservation(declared: Int?, limit: Int) -> Int {
        let body = min(max(declared ?? limit, 0), limit)
        return body.multipliedReportingOverflow(by: 2).overflow ? Int.max : body * 2
    }

    /// Reserves `bytes` (at most the capacity) and returns how many were reserved.
    func acquire(_ bytes: Int) async throws -> Int {
        let bytes = min(max(bytes, 0), capacity)
        guard bytes > 0 else { return 0 }
        let id: UInt64? = state.withLock { state in
            // First come, first served: nobody overtakes a waiter.
            if state.waiters.isEmpty, state.available >= bytes {
                state.available -= bytes
                return nil
            }
            state.nextID &+= 1
            return state.nextID
        }
        guard let id else { return bytes }
        let maxWait = maxWait
        let timeout = Task {
            try await Task.sleep(for: maxWait)
            self.abandon(id, with: AfterimageError(
                status: 503, code: .serverBusy,
                message: "The gateway is receiving too many large bodies at once; retry shortly.", retryAfterSeconds: 5
            ))
        }
        defer { timeout.cancel() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let cancelled = state.withLock { state -> Bool in
                    if Task.isCancelled { return true }
                    state.waiters.append(Waiter(id: id, bytes: bytes, continuation: continuation))
                    return false
                }
                if cancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    // The budget may have been released between the check above and the append.
                    release(0)
                }
            }
        } onCancel: {
            abandon(id, with: CancellationError())
        }
        return bytes
    }

    /// Gives back `bytes` and admits waiters, in order, while they fit.
    func release(_ bytes: Int) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.available = min(capacity, state.available + bytes)
            var ready = [CheckedContinuation<Void, any Error>]()
            while let first = state.waiters.first, first.bytes <= state.available {
                state.available -= first.bytes
                ready.append(first.continuation)
                state.waiters.removeFirst()
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Removes a waiter (timed out or cancelled) that has not been admitted yet.
    private func abandon(_ id: UInt64, with error: any Error) {
        let continuation = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index).continuation
        }
        continuation?.resume(throwing: error)
        // The head of the queue may have changed.
        release(0)
    }
}
