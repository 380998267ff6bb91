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

    public init(dimension: Int, annMinEntries: Int = 0) {
        self.dimension = dimension
        self.annMinEntries = annMinEntries
    }

    public func upsert(_ partition: PartitionID, id: Int64, vector: [Float]) {
        let snapshot = partitions.write { all -> (ids: [Int64], rows: [Float])? in
            all[partition, default: VectorPartition(dimension: dimension, annMinEntries: annMinEntries, buildsInline: false)].upsert(id: id, vector: vector)
            return all[partition]!.wantsBuild ? all[partition]!.beginBuild() : nil
        }
        if let snapshot { startBuild(partition, snapshot) }
    }

    public func remove(_ partition: PartitionID, id: Int64) {
        let snapshot = partitions.write { all -> (ids: [Int64], rows: [Float])? in
            all[partition]?.remove(id: id)
            if all[partition]?.count == 0 { all[partition] = nil }
            return all[partition]?.wantsBuild == true ? all[partition]!.beginBuild() : nil
        }
        if let snapshot { startBuild(partition, snapshot) }
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
    private func startBuild(_ partition: PartitionID, _ snapshot: (ids: [Int64], rows: [Float])) {
        buildsRunning.wrappingAdd(1, ordering: .relaxed)
        let dimension = self.dimension
        builder.submit { [self] in
            let graph = VectorPartition.buildGraph(ids: snapshot.ids, rows: snapshot.rows, dimension: dimension, parameters: HNSWGraph.Parameters())
            partitions.write { $0[partition]?.finishBuild(graph) }
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

    public func search(_ partition: PartitionID, query: [Float], k: Int) -> [(id: Int64, score: Float)] {
        partitions.read { $0[partition]?.search(query, k: k) ?? [] }
    }

    /// Entries in all partitions.
    public var count: Int { partitions.read { $0.values.reduce(0) { $0 + $1.count } } }

    public func removeAll() {
        partitions.write { $0.removeAll() }
    }
}
