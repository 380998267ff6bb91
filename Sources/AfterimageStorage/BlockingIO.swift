import Dispatch

/// Runs blocking file work (reads, fsync) on Dispatch threads rather than on Swift-concurrency
/// threads, which a 2-core machine has only two of (see ARCHITECTURE.md, concurrency rules).
enum BlockingIO {
    private static let queue = DispatchQueue(label: "afterimage.blocking-io", qos: .userInitiated, attributes: .concurrent)

    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}
