import Dispatch
import ServiceLifecycle

/// Runs blocking background work every `interval` on a Dispatch thread (never on the
/// Swift-concurrency pool) until graceful shutdown — e.g. watching the pricing file.
struct PeriodicService: Service {
    let interval: Duration
    let work: @Sendable () -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    DispatchQueue.global(qos: .utility).async {
                        work()
                        done.resume()
                    }
                }
            }
        }
    }
}
