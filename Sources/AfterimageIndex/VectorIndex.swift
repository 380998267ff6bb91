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

    public init(dimension: Int, annMinEntries: Int = 0, graphParameters: HNSWGraph.Parameters = HNSWGraph.Parameters()) {
        self.dimension = dimension
        self.annMinEntries = annMinEntries
        self.graphParameters = graphParameters
    }

    public func upsert(_ partition: PartitionID, id: Int64, vector: [Float]) {
        let source = partitions.write { all -> VectorPartition.BuildSource? in
            all[partition, default: VectorPartition(dimension: dimension, annMinEntries: annMinEntries, graphParameters: graphParameters, buildsInline: false)].upsert(id: id, vector: vector)
            return all[partition]!.wantsBuild ? all[partition]!.beginBuild() : nil
        }
        if let source { startBuild(partition, source) }
    }

    public func remove(_ partition: PartitionID, id: Int64) {
        let source = partitions.write { all -> VectorPartition.BuildSource? in
            all[partition]?.remove(id: id)
            if all[partition]?.count == 0 { all[partition] = nil }
            return all[partition]?.wantsBuild == true ? all[partition]!.beginBuild() : nil
        }
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
            // Catch up outside the lock while many changes arrived meanwhile (a startup load
            // streams a whole partition in during the first build); install once few are left.
            while true {
                let changes = partitions.write { all -> [(id: Int64, vector: [Float]?)]? in
                    guard all[partition] != nil, all[partition]!.pendingChanges > Self.replayUnderLock else {
                        all[partition]?.finishBuild(graph)
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

    public func removeAll() {
        partitions.write { $0.removeAll() }
    }
}
