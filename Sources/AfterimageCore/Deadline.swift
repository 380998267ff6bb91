import Foundation

/// Thrown by `withDeadline` when the work did not finish in time.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    public var limit: Duration
    public var description: String { "did not finish within \(limit)" }
}

/// Runs `work`, throwing `DeadlineExceeded` once `limit` has passed. The caller gets its answer at
/// the deadline even when the work ignores cancellation: the work is cancelled and left to end on
/// its own (a task group would wait for it — a PostgreSQL call stuck on a dead connection once held
/// a request, and with it the server's shutdown, forever). Cancelling the caller cancels the work.
public func withDeadline<T: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
    let race = DeadlineRace<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            race.start(continuation)
            let worker = Task {
                do { race.finish(.success(try await work())) } catch { race.finish(.failure(error)) }
            }
            let timer = Task {
                try? await Task.sleep(for: limit)
                race.finish(.failure(DeadlineExceeded(limit: limit)))
            }
            race.attach(worker: worker, timer: timer)
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The first of work, deadline and cancellation resumes the caller; the others are cancelled.
final class DeadlineRace<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?
    private var outcome: Result<T, any Error>?
    private var tasks: [Task<Void, Never>] = []
    private var done = false

    func start(_ continuation: CheckedContinuation<T, any Error>) {
        let early: Result<T, any Error>? = lock.withLock {
            if let outcome { return outcome }
            self.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    func attach(worker: Task<Void, Never>, timer: Task<Void, Never>) {
        let finished = lock.withLock {
            if !done { tasks = [worker, timer] }
            return done
        }
        if finished {
            worker.cancel()
            timer.cancel()
        }
    }

    func finish(_ result: Result<T, any Error>) {
        let (continuation, tasks): (CheckedContinuation<T, any Error>?, [Task<Void, Never>]) = lock.withLock {
            guard !done else { return (nil, []) }
            done = true
            let waiting = self.continuation
            self.continuation = nil
            if waiting == nil { outcome = result }
            let running = self.tasks
            self.tasks = []
            return (waiting, running)
        }
        for task in tasks { task.cancel() }
        continuation?.resume(with: result)
    }
}
