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
        /// Lanes with no drain running (a drain is only ever submitted to one of these: a lane
        /// chosen in turn could be the busy one, and two drains would then share one core).
        var idleLanes: [Int]
        /// Lanes woken whose drain has not taken its first batch yet.
        var startingLanes = 0
    }

    private let state: Mutex<State>
    private let executor: EmbeddingExecutor
    /// Most sequences one pass encodes (a larger single call is encoded in several passes).
    let maxSequences: Int
    private let encode: @Sendable ([String]) -> [Embedding]
    /// Passes run and texts encoded, for tests and benchmarks.
    private let counters = Mutex((passes: 0, sequences: 0))

    init(executor: EmbeddingExecutor, maxSequences: Int, encode: @escaping @Sendable ([String]) -> [Embedding]) {
        self.executor = executor
        self.state = Mutex(State(idleLanes: Array((0..<executor.workers).reversed())))
        self.maxSequences = max(1, maxSequences)
        self.encode = encode
    }

    /// One embedding per text, in order (tokenised and encoded on an embedding lane).
    func embed(_ texts: [String]) async -> [Embedding] {
        guard !texts.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            let freeLane = state.withLock { state -> Int? in
                state.pending.append(Job(texts: texts, continuation: continuation))
                state.pendingSequences += texts.count
                guard let lane = state.idleLanes.popLast() else { return nil }
                state.startingLanes += 1
                return lane
            }
            if let freeLane { executor.submit(toLane: freeLane) { [self] in drain(lane: freeLane) } }
        }
    }

    /// (passes, sequences) so far: sequences / passes is the mean batch size.
    var statistics: (passes: Int, sequences: Int) { counters.withLock { $0 } }

    /// Runs on an embedding lane: takes whole queued calls up to its share of the queue (at most
    /// `maxSequences` per pass, at least one call), wakes an idle lane for what it leaves, encodes
    /// its calls together, answers each, until nothing is queued.
    private func drain(lane: Int) {
        var first = true
        while true {
            let (batch, wake) = state.withLock { state -> ([Job], Int?) in
                if first { state.startingLanes -= 1 }
                guard !state.pending.isEmpty else {
                    state.idleLanes.append(lane)
                    return ([], nil)
                }
                // This lane's share: the queue split over itself, the lanes starting and the idle
                // ones, so a burst keeps every core busy instead of one lane taking all of it.
                let lanes = 1 + state.startingLanes + state.idleLanes.count
                let share = min(maxSequences, (state.pendingSequences + lanes - 1) / lanes)
                var taken = 0, count = 0
                while count < state.pending.count, taken == 0 || taken + state.pending[count].texts.count <= share {
                    taken += state.pending[count].texts.count
                    count += 1
                }
                state.pendingSequences -= taken
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                guard !state.pending.isEmpty, let wake = state.idleLanes.popLast() else { return (batch, nil) }
                state.startingLanes += 1
                return (batch, wake)
            }
            first = false
            if let wake { executor.submit(toLane: wake) { [self] in drain(lane: wake) } }
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
