import AfterimageCore
import Foundation
import Logging

/// Keeps this process's vector index in step with the shared store when other processes (replicas)
/// write to it: loads the index at a known feed position, then applies every later insert and
/// delete. Sequence numbers can commit out of order (two writers), so a number skipped over is
/// remembered as a gap and asked for again for `gapLifetime`; a gap older than that is a rolled-back
/// write. Correctness never rests on the index: a hit rechecks its row.
public actor CacheIndexFollower {
    let cache: SemanticCache
    let feed: any CacheChangeFeed
    let logger: Logger
    /// How long a skipped sequence number may still commit.
    let gapLifetime: TimeInterval
    /// The most changes read per round trip.
    let batchSize: Int
    /// The most gaps remembered (a burst of rollbacks cannot grow memory without bound).
    static let maxGaps = 4096
    private(set) var cursor: Int64 = 0
    private var gaps: [Int64: Date] = [:]
    private(set) var applied = 0

    public init(cache: SemanticCache, feed: any CacheChangeFeed, logger: Logger, gapLifetime: TimeInterval = 5, batchSize: Int = 1000) {
        self.cache = cache
        self.feed = feed
        self.logger = logger
        self.gapLifetime = gapLifetime
        self.batchSize = batchSize
    }

    /// Loads the index from the store at the feed's current position (read first, so a change
    /// committed during the load is applied again rather than missed).
    @discardableResult
    public func load(now: Date = Date()) async throws -> Int {
        let position = try await feed.position()
        let count = try await cache.loadIndex(now: now)
        cursor = position
        gaps.removeAll()
        return count
    }

    /// Applies every change committed since the last call; returns how many it applied.
    @discardableResult
    public func catchUp(now: Date = Date()) async throws -> Int {
        var total = 0
        while true {
            guard let changes = try await feed.changes(after: cursor, gaps: Array(gaps.keys), limit: batchSize) else {
                logger.info("cache change feed was pruned past this replica's position; reloading the index")
                try await load(now: now)
                return total
            }
            for change in changes {
                if change.seq > cursor {
                    // Numbers between the cursor and this one may still commit.
                    if change.seq - cursor > 1, change.seq - cursor <= Int64(Self.maxGaps) {
                        for missing in (cursor + 1)..<change.seq where gaps.count < Self.maxGaps { gaps[missing] = now }
                    }
                    cursor = change.seq
                } else {
                    gaps[change.seq] = nil
                }
                cache.apply(change)
            }
            total += changes.count
            applied += changes.count
            gaps = gaps.filter { now.timeIntervalSince($0.value) < gapLifetime }
            if changes.count < batchSize { return total }
        }
    }

    /// Follows the feed until cancelled: waits for a notification (or `poll`), then catches up;
    /// a failure is logged and retried after `poll`.
    public func follow(poll: Duration = .milliseconds(500)) async {
        while !Task.isCancelled {
            await feed.waitForChange(timeout: poll)
            do {
                try await catchUp()
            } catch {
                if Task.isCancelled { return }
                logger.warning("cache change feed unreadable; retrying", metadata: ["error": "\(String(describing: error).prefix(200))"])
                try? await Task.sleep(for: poll)
            }
        }
    }
}
