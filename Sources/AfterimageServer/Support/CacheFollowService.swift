import AfterimageCache
import AfterimageCore
import Foundation
import Logging
import ServiceLifecycle

/// Runs a replica's index follower until shutdown, and prunes the shared change feed of changes
/// older than `retention` once a minute (any replica may; pruning is idempotent). A replica that
/// was away longer than `retention` reloads its whole index when it comes back.
struct CacheFollowService: Service {
    let follower: CacheIndexFollower
    let feed: any CacheChangeFeed
    let logger: Logger
    var retention: TimeInterval = 3600

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await follower.follow() }
                group.addTask {
                    while !Task.isCancelled {
                        do { try await Task.sleep(for: .seconds(60)) } catch { return }
                        do {
                            try await feed.prune(olderThan: Date().addingTimeInterval(-retention))
                        } catch {
                            logger.warning("pruning the cache change feed failed", metadata: ["error": "\(String(describing: error).prefix(200))"])
                        }
                    }
                }
            }
        }
    }
}
