import AfterimageCore
import AfterimageIndex
import Foundation
import Synchronization

/// The outcome of a semantic lookup.
public struct SemanticOutcome: Sendable {
    /// The nearest entry and what the guard says of it, whatever the threshold (the lookup log
    /// keeps it so what-if replays can move the threshold).
    public struct Candidate: Sendable {
        public var entryID: Int64
        public var prompt: String
        public var similarity: Float
        /// The guard's refusal rule, or nil when it would allow serving this candidate.
        public var refusedBy: GuardRefusal?
        /// What the miss that stored it cost (what serving it would save).
        public var cost: Money?
    }

    /// The entry to serve, if the lookup hit.
    public var entry: CacheEntry?
    /// Similarity of the served entry, or of the best candidate seen on a miss.
    public var similarity: Float?
    /// The query's embedding (stored with the entry on a miss).
    public var embedding: [Float]
    /// Embedding tokens spent on this lookup.
    public var tokens: Int
    /// Why the best candidate above the threshold was refused, if one was.
    public var refusedBy: GuardRefusal?
    /// The nearest live candidate, judged by the guard.
    public var best: Candidate?
}

/// The cache policy: direct lookup by normalised prompt, semantic lookup through the vector index
/// and the false-hit guard, and storing answers. SQLite is the source of truth; the index follows it.
public final class SemanticCache: Sendable {
    public let settings: CacheSettings
    public let embedder: any Embedder
    let store: any CacheStore
    let index: VectorIndex
    /// Live entries and bytes as this process last saw them; when they pass a limit, the store
    /// evicts by exact counts (another process may have purged meanwhile).
    let totals = Mutex(CacheTotals(entries: 0, bytes: 0))
    public let matcher: CacheMatcher
    var analyzer: PromptAnalyzer { matcher.analyzer }
    /// Analyses of cached prompts: the candidates of one partition are judged again and again.
    let analyses = BoundedMemo<String, PromptAnalysis>(capacity: 4_096)
    /// Decoded entries by id (a repeated hit skips decoding its row).
    let memo = EntryMemo()
    /// Hit counters (LRU time, counts, images' last use), written in batches off the response
    /// path and flushed before anything reads or depends on them; a crash loses at most the last
    /// 20 ms of counts — statistics, never a ledger row.
    let hits: BatchedWriter<CacheHit>
    let lastRestore = Mutex(GraphSnapshotStore.Restored())

    public init(settings: CacheSettings, store: any CacheStore, embedder: any Embedder, vocabulary: GuardVocabulary) {
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.index = VectorIndex(
            dimension: embedder.dimension, annMinEntries: settings.annMinEntries, graphParameters: HNSWGraph.Parameters(efSearch: settings.annEfSearch),
            snapshots: settings.indexSnapshotDirectory.map {
                GraphSnapshotStore(
                    directory: URL(fileURLWithPath: $0, isDirectory: true),
                    identity: "\(embedder.provider)/\(embedder.modelID)/\(settings.embedderVariant)/\(embedder.dimension)",
                    // Live entries never exceed max_entries; tombstones add at most a third before compaction.
                    maxNodes: settings.maxEntries.multipliedReportingOverflow(by: 2).overflow ? Int(Int32.max) : max(1_000, settings.maxEntries * 2)
                )
            }
        )
        self.matcher = CacheMatcher(vocabulary: vocabulary, embedder: embedder, wordSimilarity: settings.wordSimilarity)
        self.hits = BatchedWriter { try await store.recordHits($0) }
    }

    /// Loads every unexpired entry's vector from the store into the index; returns how many.
    /// Partitions with a snapshot start from their saved graph, which the rows then confirm
    /// (entries added since are inserted, entries gone are dropped: `VectorIndex.restoreSnapshots`).
    @discardableResult
    public func loadIndex(now: Date = Date(), pageSize: Int = 10_000) async throws -> Int {
        index.removeAll()
        let current = try await store.totals(now: now)
        totals.withLock { $0 = current }
        var restored = index.restoreSnapshots()
        // Page by page: a million vectors are never all held at once besides the index.
        let count = try await store.forEachVectorPage(now: now, pageSize: pageSize) { page in
            for vector in page where vector.embedding.count == index.dimension {
                index.upsert(.init(namespace: vector.namespace, partition: vector.partitionKey), id: vector.id, vector: vector.embedding)
            }
        }
        restored.dropped = index.finishRestore()
        lastRestore.withLock { $0 = restored }
        return count
    }

    /// What the last `loadIndex` took from graph snapshots (nothing when they are off).
    public var snapshotRestore: GraphSnapshotStore.Restored { lastRestore.withLock { $0 } }

    /// The in-memory index at a glance (`GET /admin/cache/stats` → `index`): entries, partitions
    /// searched through a graph, builds running, and what the last start took from snapshots.
    public var indexStatus: JSONValue {
        let restored = snapshotRestore
        return .object([
            "entries": .integer(Int64(index.count)),
            "graph_partitions": .integer(Int64(index.graphPartitions)),
            "pending_builds": .integer(Int64(index.pendingBuilds)),
            "bytes": .integer(Int64(index.approximateBytes)),
            "snapshots": .object([
                "enabled": .bool(index.snapshots != nil),
                "restored_partitions": .integer(Int64(restored.partitions)),
                "restored_nodes": .integer(Int64(restored.nodes)),
                "dropped_nodes": .integer(Int64(restored.dropped)),
                "rejected_files": .integer(Int64(restored.rejected.count)),
                "failed_writes": .integer(Int64(index.failedSnapshotWrites)),
            ]),
        ])
    }

    /// Snapshot writes that failed since start (a full disk, a read-only directory).
    public var failedSnapshotWrites: Int { index.failedSnapshotWrites }

    /// Writes the snapshot of every graph that changed since its last one (at shutdown).
    @discardableResult
    public func writeIndexSnapshots() async -> Int {
        let index = index
        // File writes leave the concurrency pool (a 1M-entry graph is ~0.5 GB).
        return await BlockingExecutor.io.run { index.writeSnapshots() }
    }

    /// The unexpired entry with the same direct key (`CacheKeys.directKey`), namespace and partition.
    public func lookupDirect(namespace: String, partitionKey: String, directKey: String, now: Date = Date()) async throws -> CacheEntry? {
        guard let id = try await store.findDirectID(namespace: namespace, partitionKey: partitionKey, directKey: directKey, now: now) else { return nil }
        return try await entry(id: id, now: now, confirmed: true)
    }

    /// The live entry `id`: from the memo once its row is confirmed live (`confirmed`: the caller
    /// just read it), else read and decoded — then remembered.
    func entry(id: Int64, now: Date, confirmed: Bool = false) async throws -> CacheEntry? {
        if let known = memo.get(id), known.expiresAt > now {
            if confirmed { return known }
            if try await store.isLive(id: id, now: now) { return known }
            memo.remove([id])
            return nil
        }
        guard let entry = try await store.get(id: id, now: now) else { return nil }
        memo.put(entry)
        return entry
    }

    /// The guard's reading of a cached prompt, remembered (prompts over 4 KiB are analysed each
    /// time rather than kept).
    func analysis(of prompt: String) -> PromptAnalysis {
        guard prompt.utf8.count <= 4_096 else { return analyzer.analyze(prompt) }
        return analyses.value(prompt) { analyzer.analyze(prompt) }
    }

    /// Embeds the prompt's content words for lookup and storage.
    public func embed(_ prompt: String) async throws -> (vector: [Float], tokens: Int) {
        let embedding = try await embedder.embed([analyzer.analyze(prompt).embeddingText])[0]
        return (embedding.vector, embedding.tokenCount)
    }

    /// Nearest entries in the namespace and partition; the first candidate at or above `threshold`
    /// that the guard allows is the hit. Rows deleted or expired since indexing are skipped. With
    /// `judgeNearest` (the lookup is logged), the nearest live candidate is judged by the guard even
    /// below the threshold, so what-if replays can move the threshold; otherwise that work is skipped.
    public func lookupSemantic(
        namespace: String, partitionKey: String, prompt: String, threshold: Float, wordSimilarity: Float? = nil,
        judgeNearest: Bool = false, now: Date = Date()
    ) async throws -> SemanticOutcome {
        let query = analyzer.analyze(prompt)
        let embedding = try await embedder.embed([query.embeddingText])[0]
        let partition = VectorIndex.PartitionID(namespace: namespace, partition: partitionKey)
        let found = index.search(partition, query: embedding.vector, k: settings.candidates)
        let candidates: [(id: Int64, score: Float)]
        let judged: [Int64]
        let live: Set<Int64>
        if found.exact {
            candidates = found.candidates
            // The candidates the guard will judge, confirmed live in one read.
            judged = candidates.enumerated().filter { $0.element.score >= threshold || (judgeNearest && $0.offset == 0) }.map(\.element.id)
            live = try await store.liveIDs(judged, now: now)
        } else {
            // A graph's candidates: their stored float32 vectors, in one read that also confirms
            // them live, give the exact scores every decision below compares.
            let vectors = try await store.liveVectors(found.ids, now: now)
            for gone in found.ids where vectors[gone] == nil { index.remove(partition, id: gone) }
            candidates = found.reranked(query: embedding.vector, vectors: vectors, k: settings.candidates)
            judged = candidates.map(\.id)
            live = Set(judged)
        }
        var outcome = SemanticOutcome(entry: nil, similarity: candidates.first?.score, embedding: embedding.vector, tokens: embedding.tokenCount)
        for candidate in candidates {
            guard candidate.score >= threshold || (judgeNearest && outcome.best == nil) else { break }
            let found: CacheEntry? = if judged.contains(candidate.id) {
                live.contains(candidate.id) ? try await entry(id: candidate.id, now: now, confirmed: true) : nil
            } else {
                try await entry(id: candidate.id, now: now)
            }
            guard let entry = found,
                  entry.namespace == namespace, entry.partitionKey == partitionKey
            else {
                index.remove(partition, id: candidate.id)
                continue
            }
            let verdict = await matcher.falseHitGuard.verdict(cached: analysis(of: entry.prompt), incoming: query, wordSimilarity: wordSimilarity)
            if outcome.best == nil {
                outcome.best = .init(entryID: candidate.id, prompt: entry.prompt, similarity: candidate.score, refusedBy: verdict.rule, cost: entry.cost)
                outcome.similarity = candidate.score
            }
            guard candidate.score >= threshold else { break }
            if CacheDecision.serves(similarity: candidate.score, threshold: threshold, refusal: verdict.rule) {
                outcome.entry = entry
                outcome.similarity = candidate.score
                outcome.refusedBy = nil
                return outcome
            }
            if outcome.refusedBy == nil { outcome.refusedBy = verdict.rule }
        }
        // A miss is usually stored next, and then judged as a candidate of later lookups: its
        // analysis is remembered now rather than computed again then.
        if prompt.utf8.count <= 4_096 { analyses.put(prompt, query) }
        return outcome
    }

    /// Stores an answer (SQLite first, then the index), evicts least-recently-used entries if a
    /// size limit is passed, and returns the entry with its id. With `ledgerRow`, the request's
    /// usage row is committed in the entry's transaction (`CacheStore.insert(_:ledgerRow:)`).
    ///
    /// Throws only when nothing was stored: once the entry (and row) are committed, a failed
    /// eviction is left to the periodic sweep, which enforces the same limits — so a caller whose
    /// row went with the entry never writes it twice.
    public func store(_ entry: CacheEntry, ledgerRow: UsageRecord? = nil) async throws -> CacheEntry {
        let (id, replaced) = try await store.insert(entry, ledgerRow: ledgerRow)
        let partition = VectorIndex.PartitionID(namespace: entry.namespace, partition: entry.partitionKey)
        if let replaced { index.remove(partition, id: replaced.id) }
        if let embedding = entry.embedding, embedding.count == index.dimension {
            index.upsert(partition, id: id, vector: embedding)
        }
        let overLimit = totals.withLock { totals in
            totals.entries += replaced == nil ? 1 : 0
            totals.bytes += entry.byteCount
            return totals.entries > settings.maxEntries || totals.bytes > settings.maxBytes
        }
        if overLimit { _ = try? await evict() }
        var stored = entry
        stored.id = id
        // Later lookups judge it as a candidate: remembered decoded, not read back and decoded.
        memo.put(stored)
        return stored
    }

    /// Live entries and bytes as last counted (for gauges; exact after each sweep).
    public var liveTotals: CacheTotals { totals.withLock { $0 } }

    /// Counts a hit for LRU and stats (queued: written with other hits).
    public func recordHit(_ entry: CacheEntry, kind: CacheHitKind, now: Date = Date()) {
        guard let id = entry.id else { return }
        hits.enqueue(CacheHit(id: id, kind: kind, at: now))
    }

    /// Writes queued hit counters now (before reads of them, and at shutdown).
    public func flushHits() async {
        await hits.flush()
    }

    /// Deletes least-recently-used entries until the size limits hold; returns how many.
    @discardableResult
    public func evict(now: Date = Date()) async throws -> Int {
        await hits.flush()
        let (deleted, remaining) = try await store.evict(maxEntries: settings.maxEntries, maxBytes: settings.maxBytes, now: now)
        forget(deleted)
        totals.withLock { $0 = remaining }
        return deleted.count
    }

    /// Deletes expired entries and enforces the size limits (the periodic sweep).
    public func sweep(now: Date = Date()) async throws -> (expired: Int, evicted: Int) {
        await hits.flush()
        let expired = try await store.deleteExpired(now: now)
        forget(expired)
        return (expired.count, try await evict(now: now))
    }

    /// Deletes the entries matching `filter`; returns how many.
    public func purge(_ filter: CachePurgeFilter) async throws -> Int {
        await hits.flush()
        let deleted = try await store.purge(filter)
        forget(deleted)
        try await refreshTotals()
        return deleted.count
    }

    /// Deletes one entry; false if there was none.
    public func delete(id: Int64) async throws -> Bool {
        await hits.flush()
        guard let deleted = try await store.delete(id: id) else { return false }
        forget([deleted])
        try await refreshTotals()
        return true
    }

    func refreshTotals(now: Date = Date()) async throws {
        let current = try await store.totals(now: now)
        totals.withLock { $0 = current }
    }

    /// Entries, bytes and hits, overall and by namespace and model.
    public func stats(now: Date = Date()) async throws -> CacheStats {
        await hits.flush()
        return try await store.stats(now: now)
    }

    /// Applies another process's committed insert or delete to the index (idempotent).
    public func apply(_ change: CacheChange) {
        let partition = VectorIndex.PartitionID(namespace: change.ref.namespace, partition: change.ref.partitionKey)
        switch change.kind {
        case .insert:
            if let embedding = change.embedding, embedding.count == index.dimension { index.upsert(partition, id: change.ref.id, vector: embedding) }
        case .delete:
            index.remove(partition, id: change.ref.id)
        }
    }

    /// Entries in the index (all partitions).
    public var indexedCount: Int { index.count }

    /// Drops deleted rows from the index (SQLite already lost them).
    func forget(_ refs: [CacheEntryRef]) {
        memo.remove(refs.map(\.id))
        for ref in refs { index.remove(.init(namespace: ref.namespace, partition: ref.partitionKey), id: ref.id) }
    }
}
