import AfterimageCore
import ServiceLifecycle

/// Runs blocking background work every `interval` on a Dispatch thread (`BlockingExecutor.io`,
/// never the Swift-concurrency pool) until graceful shutdown — e.g. watching the pricing file.
struct PeriodicService: Service {
    let interval: Duration
    let work: @Sendable () -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await BlockingExecutor.io.run(work)
            }
        }
    }
}
