import Foundation

/// Runs CPU-heavy embedding work on dedicated threads, away from the server's I/O event loops
/// and Swift's cooperative pool, so a slow embedding never blocks other requests.
public final class EmbeddingExecutor: Sendable {
    private let queues: [DispatchQueue]
    private let next = NextIndex()

    /// `workers` serial queues; work is spread over them in turn.
    public init(workers: Int = 1, label: String = "afterimage.embedding") {
        queues = (0..<max(1, workers)).map { DispatchQueue(label: "\(label).\($0)", qos: .userInitiated) }
    }

    /// Runs `work` on one of the executor's threads and returns its result.
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        let queue = queues[next.take() % queues.count]
        return try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}

/// A thread-safe round-robin counter.
final class NextIndex: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()

    func take() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value &+= 1
        return value & Int.max
    }
}
