import Dispatch

/// The one way Afterimage runs blocking work (file reads and fsyncs, DNS lookups, BLAS-heavy
/// embedding, reading a config file): on Dispatch threads, never on Swift-concurrency threads, of
/// which a 2-core machine has only two (see ARCHITECTURE.md, concurrency rules).
public struct BlockingExecutor: Sendable {
    /// Shared concurrent threads for short blocking calls (file I/O, `getaddrinfo`, timers' work).
    public static let io = BlockingExecutor(label: "afterimage.blocking-io", concurrent: true)

    private let queue: DispatchQueue

    /// `concurrent: false` makes a serial lane: one job at a time, in order (an embedding worker).
    public init(label: String, concurrent: Bool, qos: DispatchQoS = .userInitiated) {
        queue = DispatchQueue(label: label, qos: qos, attributes: concurrent ? .concurrent : [])
    }

    /// Runs `work` on the executor's threads and returns its result.
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }

    /// Runs non-throwing `work` on the executor's threads.
    public func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: work()) }
        }
    }

    /// Queues `work` without waiting for it (a worker that reports back by other means).
    public func submit(_ work: @escaping @Sendable () -> Void) {
        queue.async(execute: work)
    }
}
