import AfterimageCore
import Synchronization

/// Coalesces concurrent embedding calls into shared forward passes. A call that finds a lane free
/// runs at once (no waiting window at low load); calls that arrive while every lane is busy queue
/// up, and the next free lane encodes all of them together — so under load one pass serves many
/// callers (the linear layers see all their tokens as one matrix; sequences are packed without
/// padding) and throughput rises with concurrency instead of queueing behind single passes.
final class MicroBatcher: Sendable {
    private struct Job {
        var texts: [String]
        var continuation: CheckedContinuation<[Embedding], Never>
    }

    private struct State {
        var pending: [Job] = []
        var pendingSequences = 0
        var running = 0
    }

    private let state = Mutex(State())
    private let executor: EmbeddingExecutor
    /// Most sequences one pass encodes (a larger single call is encoded in several passes).
    let maxSequences: Int
    private let encode: @Sendable ([String]) -> [Embedding]
    /// Passes run and texts encoded, for tests and benchmarks.
    private let counters = Mutex((passes: 0, sequences: 0))

    init(executor: EmbeddingExecutor, maxSequences: Int, encode: @escaping @Sendable ([String]) -> [Embedding]) {
        self.executor = executor
        self.maxSequences = max(1, maxSequences)
        self.encode = encode
    }

    /// One embedding per text, in order (tokenised and encoded on an embedding lane).
    func embed(_ texts: [String]) async -> [Embedding] {
        guard !texts.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            let startLane = state.withLock { state -> Bool in
                state.pending.append(Job(texts: texts, continuation: continuation))
                state.pendingSequences += texts.count
                guard state.running < executor.workers else { return false }
                state.running += 1
                return true
            }
            if startLane { executor.submit { [self] in drain() } }
        }
    }

    /// (passes, sequences) so far: sequences / passes is the mean batch size.
    var statistics: (passes: Int, sequences: Int) { counters.withLock { $0 } }

    /// Runs on an embedding lane: takes whole queued calls up to `maxSequences` per pass (at least
    /// one call), encodes them together, answers each, until nothing is queued.
    private func drain() {
        while true {
            let batch = state.withLock { state -> [Job] in
                guard !state.pending.isEmpty else {
                    state.running -= 1
                    return []
                }
                var taken = 0, count = 0
                while count < state.pending.count, taken == 0 || taken + state.pending[count].texts.count <= maxSequences {
                    taken += state.pending[count].texts.count
                    count += 1
                }
                state.pendingSequences -= taken
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                return batch
            }
            if batch.isEmpty { return }
            let all = batch.flatMap(\.texts)
            var vectors = [Embedding]()
            vectors.reserveCapacity(all.count)
            var start = 0
            while start < all.count {
                let end = min(start + maxSequences, all.count)
                vectors.append(contentsOf: encode(Array(all[start..<end])))
                counters.withLock { $0.passes += 1; $0.sequences += end - start }
                start = end
            }
            var offset = 0
            for job in batch {
                job.continuation.resume(returning: Array(vectors[offset..<offset + job.texts.count]))
                offset += job.texts.count
            }
        }
    }
}
