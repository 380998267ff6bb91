import AfterimageCore
import Synchronization

/// Runs CPU-heavy embedding work on dedicated serial lanes (`BlockingExecutor`), away from the
/// server's I/O event loops and Swift's cooperative pool, so a slow embedding never blocks other
/// requests and at most `workers` embeddings run at once.
public final class EmbeddingExecutor: Sendable {
    private let lanes: [BlockingExecutor]
    private let next = Atomic<Int>(0)

    /// `workers` serial lanes; work is spread over them in turn.
    public init(workers: Int = 1, label: String = "afterimage.embedding") {
        lanes = (0..<max(1, workers)).map { BlockingExecutor(label: "\(label).\($0)", concurrent: false) }
    }

    /// Runs `work` on one of the executor's lanes and returns its result.
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        let turn = next.wrappingAdd(1, ordering: .relaxed).oldValue & Int.max
        return try await lanes[turn % lanes.count].run(work)
    }

    /// Number of lanes (embeddings that can run at once).
    public var workers: Int { lanes.count }

    /// Queues `work` on lane `lane` (0 ..< `workers`, taken modulo) without waiting for it; the
    /// caller knows the lane is free (`MicroBatcher` keeps the idle ones).
    public func submit(toLane lane: Int, _ work: @escaping @Sendable () -> Void) {
        lanes[(lane & Int.max) % lanes.count].submit(work)
    }
}
