import AfterimageCache
import AfterimageCore
import Foundation
import Logging
import ServiceLifecycle

/// The background sweep, every `cache.sweep_interval_seconds`: deletes expired cache entries,
/// enforces the size limits, then deletes image files no entry uses once every URL signed for
/// them has expired (`files.url_ttl_seconds` plus a minute).
struct CacheSweeper: Service {
    let cache: SemanticCache?
    let blobs: any BlobStore
    let interval: Duration
    let urlLifetimeSeconds: Int
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await sweepOnce()
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// One sweep; failures are logged and retried next time.
    func sweepOnce(now: Date = Date()) async {
        do {
            if let cache {
                let (expired, evicted) = try await cache.sweep(now: now)
                if expired + evicted > 0 { logger.info("cache sweep", metadata: ["expired": "\(expired)", "evicted": "\(evicted)"]) }
            }
            let cutoff = now.addingTimeInterval(-TimeInterval(urlLifetimeSeconds + 60))
            let swept = try await blobs.sweepUnreferenced(unusedSince: cutoff)
            if swept.images > 0 { logger.info("image sweep", metadata: ["images": "\(swept.images)", "bytes": "\(swept.bytes)"]) }
        } catch {
            logger.error("cache sweep failed", metadata: ["error": "\(error)"])
        }
    }
}
