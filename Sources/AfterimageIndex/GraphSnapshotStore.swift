import Crypto
import Foundation

/// The directory of graph snapshots beside the database: one file per partition that has a
/// graph, named by a hash of its (namespace, partition) so names are safe whatever the keys hold.
public struct GraphSnapshotStore: Sendable {
    public let directory: URL
    /// The embedder that made the vectors (`GraphSnapshot.identity`).
    public let identity: String
    /// Most nodes one file may hold (refused before allocation when larger).
    public let maxNodes: Int
    /// Most snapshot files read at startup (more are left alone and reported).
    static let maxFiles = 100_000

    public init(directory: URL, identity: String, maxNodes: Int = Int(Int32.max)) {
        self.directory = directory
        self.identity = identity
        self.maxNodes = maxNodes
    }

    /// What a startup read found.
    public struct Restored: Sendable {
        public var graphs: [(partition: VectorIndex.PartitionID, graph: HNSWGraph)] = []
        /// Files not used, with why (they are deleted; the partition is rebuilt from the rows).
        public var rejected: [(file: String, reason: String)] = []
        public var bytes = 0
        public var seconds = 0.0
        /// Partitions and live nodes restored (`VectorIndex.restoreSnapshots` fills these and
        /// hands the graphs to the partitions).
        public var partitions = 0
        public var nodes = 0
        /// Restored nodes no loaded row confirmed (entries deleted or expired since), removed.
        public var dropped = 0
        public init() {}
    }

    /// The file of `partition`.
    public func url(for partition: VectorIndex.PartitionID) -> URL {
        let digest = SHA256.hash(data: Data((partition.namespace + "\u{0}" + partition.partition).utf8))
        let name = digest.prefix(16).map { String(format: "%02x", $0) }.joined()
        return directory.appendingPathComponent("\(name).hnsw")
    }

    /// Writes `graph` as `partition`'s snapshot (atomically; see `GraphSnapshot.write`).
    public func write(_ graph: HNSWGraph, for partition: VectorIndex.PartitionID) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try GraphSnapshot(namespace: partition.namespace, partition: partition.partition, identity: identity, graph: graph).write(to: url(for: partition))
    }

    /// Deletes `partition`'s snapshot, if any.
    public func remove(_ partition: VectorIndex.PartitionID) {
        try? FileManager.default.removeItem(at: url(for: partition))
    }

    /// Reads every snapshot that fits this index; damaged, foreign or misnamed files are
    /// reported and deleted (they would be rewritten anyway after the next build).
    public func readAll(dimension: Int, parameters: HNSWGraph.Parameters) -> Restored {
        let started = ContinuousClock.now
        var restored = Restored()
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".hnsw") }.sorted()
        for (index, name) in names.enumerated() {
            let url = directory.appendingPathComponent(name)
            guard index < Self.maxFiles else {
                restored.rejected.append((name, "more than \(Self.maxFiles) snapshot files; left unread"))
                continue
            }
            do {
                let snapshot = try GraphSnapshot.read(from: url, identity: identity, dimension: dimension, parameters: parameters, maxNodes: maxNodes)
                let partition = VectorIndex.PartitionID(namespace: snapshot.namespace, partition: snapshot.partition)
                guard self.url(for: partition).lastPathComponent == name else { throw GraphSnapshotError.corrupt("the file name does not match its partition") }
                restored.graphs.append((partition, snapshot.graph))
                restored.bytes += (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
            } catch {
                restored.rejected.append((name, "\(error)"))
                try? FileManager.default.removeItem(at: url)
            }
        }
        let elapsed = ContinuousClock.now - started
        restored.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return restored
    }
}
