import AfterimageCore
import Dispatch
import Synchronization

/// In-memory vector partitions keyed by (namespace, partition key). SQLite stays the source of
/// truth; this is rebuilt from it at startup and updated after every committed write. A search
/// only touches its own partition, so its cost does not grow with other partitions' entries.
public final class VectorIndex: Sendable {
    /// Identifies a partition: tenant namespace plus the exact-match request key.
    public struct PartitionID: Hashable, Sendable {
        public var namespace: String
        public var partition: String
        public init(namespace: String, partition: String) {
            self.namespace = namespace
            self.partition = partition
        }
    }

    public let dimension: Int
    /// Partition size from which searches go through an HNSW graph (`cache.index.ann_min_entries`; 0: never).
    public let annMinEntries: Int
    /// Searches share the partitions in place (a read lock: no copy of a partition, so a writer
    /// never has to duplicate one a search is holding); writes are exclusive.
    private let partitions = ReadWriteLock<[PartitionID: VectorPartition]>([:])
    /// Graph builds and compactions run here, one at a time, never under the partitions' lock:
    /// searches keep the exact scan (or the old graph) until the new graph is installed.
    private let builder = BlockingExecutor(label: "afterimage.index-build", concurrent: false, qos: .utility)
    private let buildsRunning = Atomic<Int>(0)
    /// Changes a finished build replays under the write lock; with more, it catches up outside first.
    static let replayUnderLock = 1_000

    /// Graph shape and effort for every partition's graph.
    public let graphParameters: HNSWGraph.Parameters

    /// Where graphs are kept across restarts (nil: rebuilt from the rows at every start).
    public let snapshots: GraphSnapshotStore?
    /// Snapshot writes that failed (a full disk, a read-only directory): the graph still works.
    private let snapshotFailures = Atomic<Int>(0)

    public init(
        dimension: Int, annMinEntries: Int = 0, graphParameters: HNSWGraph.Parameters = HNSWGraph.Parameters(), snapshots: GraphSnapshotStore? = nil
    ) {
        self.dimension = dimension
        self.annMinEntries = annMinEntries
        self.graphParameters = graphParameters
        self.snapshots = annMinEntries > 0 ? snapshots : nil
    }

    public func upsert(_ partition: PartitionID, id: Int64, vector: [Float]) {
        let source = partitions.write { all -> VectorPartition.BuildSource? in
            all[partition, default: VectorPartition(dimension: dimension, annMinEntries: annMinEntries, graphParameters: graphParameters, buildsInline: false)].upsert(id: id, vector: vector)
            return all[partition]!.wantsBuild ? all[partition]!.beginBuild() : nil
        }
        if let source { startBuild(partition, source) }
    }

    public func remove(_ partition: PartitionID, id: Int64) {
        var emptiedWithSnapshot = false
        let source = partitions.write { all -> VectorPartition.BuildSource? in
            all[partition]?.remove(id: id)
            if all[partition]?.count == 0 {
                emptiedWithSnapshot = all[partition]!.snapshotRevision != nil
                all[partition] = nil
            }
            return all[partition]?.wantsBuild == true ? all[partition]!.beginBuild() : nil
        }
        // The file goes outside the lock (searches never wait for the disk).
        if emptiedWithSnapshot { snapshots?.remove(partition) }
        if let source { startBuild(partition, source) }
    }

    /// Removes `id` from whichever partition holds it (slower: scans partitions).
    public func remove(id: Int64) {
        let found = partitions.read { all -> PartitionID? in
            for key in Array(all.keys) where all[key]?.positionsContain(id) == true { return key }
            return nil
        }
        if let found { remove(found, id: id) }
    }

    /// Builds a partition's graph on the builder thread and installs it.
    private func startBuild(_ partition: PartitionID, _ source: VectorPartition.BuildSource) {
        buildsRunning.wrappingAdd(1, ordering: .relaxed)
        let dimension = self.dimension, parameters = graphParameters
        builder.submit { [self] in
            var graph = VectorPartition.buildGraph(from: source, dimension: dimension, parameters: parameters)
            // The snapshot is written from the builder's own graph before it is installed: no
            // copy of a graph that searches share, and what changes meanwhile is caught up below.
            var written: UInt64?
            if let snapshots {
                while true {
                    let taken = partitions.write { all -> (UInt64, [(id: Int64, vector: [Float]?)])? in
                        guard all[partition] != nil else { return nil }
                        return (all[partition]!.revision, all[partition]!.takeChanges())
                    }
                    guard let (revision, changes) = taken else { break }
                    VectorPartition.apply(changes, to: &graph)
                    guard changes.count > Self.replayUnderLock else {
                        do {
                            if graph.count > 0 {
                                try snapshots.write(graph, for: partition)
                                written = revision
                            }
                        } catch {
                            snapshotFailures.wrappingAdd(1, ordering: .relaxed)
                        }
                        break
                    }
                }
            }
            // Catch up outside the lock while many changes arrived meanwhile (a startup load
            // streams a whole partition in during the first build); install once few are left.
            while true {
                let changes = partitions.write { all -> [(id: Int64, vector: [Float]?)]? in
                    guard all[partition] != nil, all[partition]!.pendingChanges > Self.replayUnderLock else {
                        all[partition]?.finishBuild(graph, snapshotRevision: written)
                        return nil
                    }
                    return all[partition]!.takeChanges()
                }
                guard let changes else { break }
                VectorPartition.apply(changes, to: &graph)
            }
            buildsRunning.wrappingSubtract(1, ordering: .relaxed)
        }
    }

    /// Graph builds queued or running.
    public var pendingBuilds: Int { buildsRunning.load(ordering: .relaxed) }

    /// Waits until no graph build is queued or running (tests, benchmarks, a warm start).
    public func waitForBuilds() async {
        while pendingBuilds > 0 { try? await Task.sleep(for: .milliseconds(5)) }
    }

    /// Whether `partition` is searched through its graph.
    public func usesGraph(_ partition: PartitionID) -> Bool {
        partitions.read { $0[partition]?.usesGraph ?? false }
    }

    /// The nearest vectors in `partition`: exact, or graph candidates to re-rank (`Neighbours`).
    public func search(_ partition: PartitionID, query: [Float], k: Int) -> Neighbours {
        partitions.read { $0[partition]?.search(query, k: k) } ?? Neighbours(candidates: [], exact: true)
    }

    /// Bytes held for vectors across partitions (without allocator overhead).
    public var approximateBytes: Int { partitions.read { $0.values.reduce(0) { $0 + $1.approximateBytes } } }

    /// Entries in all partitions.
    public var count: Int { partitions.read { $0.values.reduce(0) { $0 + $1.count } } }

    /// Partitions searched through a graph.
    public var graphPartitions: Int { partitions.read { $0.values.reduce(0) { $0 + ($1.usesGraph ? 1 : 0) } } }

    public func removeAll() {
        partitions.write { $0.removeAll() }
    }

    // MARK: - Snapshots

    /// Installs the graphs of the snapshot directory as their partitions' graphs (the index is
    /// expected empty: call before loading the rows). Each restored partition is then reconciled
    /// with the rows loaded next (`upsert`: an unchanged vector confirms its node, a changed or new
    /// one is inserted online) and `finishRestore` drops what no row confirmed. A startup with
    /// snapshots therefore searches through graphs at once instead of building them again.
    @discardableResult
    public func restoreSnapshots() -> GraphSnapshotStore.Restored {
        guard let snapshots else { return .init() }
        var restored = snapshots.readAll(dimension: dimension, parameters: graphParameters)
        partitions.write { all in
            for (partition, graph) in restored.graphs {
                var fresh = VectorPartition(dimension: dimension, annMinEntries: annMinEntries, graphParameters: graphParameters, buildsInline: false)
                fresh.restore(graph)
                all[partition] = fresh
            }
        }
        // The graphs now live in the partitions only (no second reference to copy on write).
        restored.partitions = restored.graphs.count
        restored.nodes = restored.graphs.reduce(0) { $0 + $1.graph.count }
        restored.graphs = []
        return restored
    }

    /// Ends the reconciliation `restoreSnapshots` began: removes every restored node no loaded
    /// row confirmed and drops partitions left empty (and their files); returns the nodes removed.
    @discardableResult
    public func finishRestore() -> Int {
        let (removed, emptied, builds) = partitions.write { all -> (Int, [PartitionID], [(PartitionID, VectorPartition.BuildSource)]) in
            var removed = 0
            var emptied = [PartitionID]()
            var builds = [(PartitionID, VectorPartition.BuildSource)]()
            for key in Array(all.keys) {
                removed += all[key]!.finishRestore()
                if all[key]!.count == 0 {
                    emptied.append(key)
                    all[key] = nil
                } else if all[key]!.wantsBuild {
                    builds.append((key, all[key]!.beginBuild()))
                }
            }
            return (removed, emptied, builds)
        }
        for partition in emptied { snapshots?.remove(partition) }
        for (partition, source) in builds { startBuild(partition, source) }
        return removed
    }

    /// Writes the snapshot of every installed graph that changed since its snapshot (at
    /// shutdown); returns how many were written. A build still running is not waited for (a
    /// first build of a huge partition takes minutes): its partition keeps its older file, or
    /// none, and the next start reconciles or builds as usual.
    @discardableResult
    public func writeSnapshots() -> Int {
        guard let snapshots else { return 0 }
        let stale = partitions.read { all in all.compactMap { key, value in value.snapshotIsStale ? (key, value.graph!, value.revision) : nil } }
        var written = 0
        for (partition, graph, revision) in stale {
            do {
                try snapshots.write(graph, for: partition)
                partitions.write { $0[partition]?.snapshotWritten(at: revision) }
                written += 1
            } catch {
                snapshotFailures.wrappingAdd(1, ordering: .relaxed)
            }
        }
        return written
    }

    /// Snapshot writes that failed since start.
    public var failedSnapshotWrites: Int { snapshotFailures.load(ordering: .relaxed) }
}
