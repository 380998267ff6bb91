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
    private let partitions = Mutex<[PartitionID: VectorPartition]>([:])

    public init(dimension: Int, annMinEntries: Int = 0) {
        self.dimension = dimension
        self.annMinEntries = annMinEntries
    }

    public func upsert(_ partition: PartitionID, id: Int64, vector: [Float]) {
        partitions.withLock { all in
            all[partition, default: VectorPartition(dimension: dimension, annMinEntries: annMinEntries)].upsert(id: id, vector: vector)
        }
    }

    public func remove(_ partition: PartitionID, id: Int64) {
        partitions.withLock { all in
            all[partition]?.remove(id: id)
            if all[partition]?.count == 0 { all[partition] = nil }
        }
    }

    /// Removes `id` from whichever partition holds it (slower: scans partitions).
    public func remove(id: Int64) {
        partitions.withLock { all in
            for key in Array(all.keys) where all[key]?.remove(id: id) == true {
                if all[key]?.count == 0 { all[key] = nil }
                return
            }
        }
    }

    public func search(_ partition: PartitionID, query: [Float], k: Int) -> [(id: Int64, score: Float)] {
        // Copy-on-write: the partition is copied out only if a writer mutates it meanwhile.
        let snapshot = partitions.withLock { $0[partition] }
        return snapshot?.search(query, k: k) ?? []
    }

    /// Entries in all partitions.
    public var count: Int { partitions.withLock { $0.values.reduce(0) { $0 + $1.count } } }

    public func removeAll() {
        partitions.withLock { $0.removeAll() }
    }
}
