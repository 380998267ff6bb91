import Synchronization

/// Writes that need not hold a response (hit counters, the sampled lookup log) queued in memory
/// and written together: `delay` after the first queued item, at once when `batchSize` are
/// waiting, and whenever a reader calls `flush()` first (so reads see every queued item). On a
/// write error the batch goes back to the front of the queue and is retried a second later; the
/// queue holds at most `maxQueued` items — beyond that new items are counted as dropped (a store
/// that stays down cannot grow memory). A crash loses at most the last `delay` of items.
public final class BatchedWriter<Item: Sendable>: Sendable {
    private struct State {
        var queued: [Item] = []
        var flushScheduled = false
        var dropped = 0
    }

    private let state = Mutex(State())
    private let write: @Sendable ([Item]) async throws -> Void
    public let delay: Duration
    public let batchSize: Int
    public let maxQueued: Int

    public init(delay: Duration = .milliseconds(20), batchSize: Int = 512, maxQueued: Int = 8_192, write: @escaping @Sendable ([Item]) async throws -> Void) {
        self.delay = delay
        self.batchSize = max(1, batchSize)
        self.maxQueued = max(self.batchSize, maxQueued)
        self.write = write
    }

    /// Queues an item; never waits for a write.
    public func enqueue(_ item: Item) {
        let (schedule, full) = state.withLock { state -> (Bool, Bool) in
            guard state.queued.count < maxQueued else {
                state.dropped += 1
                return (false, false)
            }
            state.queued.append(item)
            let schedule = !state.flushScheduled
            state.flushScheduled = true
            return (schedule, state.queued.count >= batchSize)
        }
        if full {
            Task { await self.flush() }
        } else if schedule {
            Task {
                try? await Task.sleep(for: delay)
                await self.flush()
            }
        }
    }

    /// Writes everything queued now, in batches of at most `batchSize`.
    public func flush() async {
        while true {
            let batch = state.withLock { state -> [Item] in
                let count = min(batchSize, state.queued.count)
                if count == state.queued.count { state.flushScheduled = false }
                defer { state.queued.removeFirst(count) }
                return Array(state.queued.prefix(count))
            }
            guard !batch.isEmpty else { return }
            do {
                try await write(batch)
            } catch {
                let retry = state.withLock { state -> Bool in
                    state.queued.insert(contentsOf: batch, at: 0)
                    if state.queued.count > maxQueued {
                        state.dropped += state.queued.count - maxQueued
                        state.queued.removeLast(state.queued.count - maxQueued)
                    }
                    let retry = !state.flushScheduled
                    state.flushScheduled = true
                    return retry
                }
                if retry {
                    Task {
                        try? await Task.sleep(for: .seconds(1))
                        await self.flush()
                    }
                }
                return
            }
        }
    }

    /// Items waiting, and items dropped so far because the queue was full.
    public var backlog: (queued: Int, dropped: Int) { state.withLock { ($0.queued.count, $0.dropped) } }
}
