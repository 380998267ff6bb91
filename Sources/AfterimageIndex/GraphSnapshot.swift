import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One partition's graph as a file, so a restart does not rebuild it: versioned, SHA-256
/// checksummed, and checked node by node when read (a file that passes its checksum is still
/// hostile input: every link, level, id and scale is validated before a search may touch it).
///
/// Layout (little-endian): magic `AFTIMHNS`, version, dimension, m, ef_construction, node count,
/// entry, top level, the level generator's state, the embedder identity, namespace and partition
/// (each a length and UTF-8 bytes); then per node its int8 codes, scales, ids, deleted flags,
/// levels and layer-0 links (`2m` slots, -1 where empty) as flat arrays; then each upper-layer
/// list (a count and the links) of the nodes above layer 0 in node order; then the SHA-256 of
/// everything before it.
public struct GraphSnapshot: Sendable {
    static let magic = Array("AFTIMHNS".utf8)
    /// The format this build writes and reads.
    public static let version: UInt32 = 1
    /// Longest embedder identity, namespace or partition key a snapshot may carry.
    static let maxNameBytes = 4_096

    public var namespace: String
    public var partition: String
    /// Which embedder made the vectors (`provider/model/variant/dimension`): another one's
    /// snapshot is never used.
    public var identity: String
    public var graph: HNSWGraph

    public init(namespace: String, partition: String, identity: String, graph: HNSWGraph) {
        self.namespace = namespace
        self.partition = partition
        self.identity = identity
        self.graph = graph
    }

    /// Writes the snapshot to `url` through a temporary file in the same directory, synced and
    /// renamed into place: a crash leaves the old file or the new one, never half of one.
    public func write(to url: URL) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw GraphSnapshotError.io("\(temporary.path): \(String(cString: strerror(errno)))") }
        var closed = false
        defer {
            if !closed { close(descriptor) }
            unlink(temporary.path)
        }
        var writer = SnapshotWriter(descriptor: descriptor)
        try encode(into: &writer)
        try writer.finish()
        guard fsync(descriptor) == 0 else { throw GraphSnapshotError.io("fsync: \(String(cString: strerror(errno)))") }
        closed = true
        guard close(descriptor) == 0 else { throw GraphSnapshotError.io("close: \(String(cString: strerror(errno)))") }
        guard rename(temporary.path, url.path) == 0 else { throw GraphSnapshotError.io("rename: \(String(cString: strerror(errno)))") }
        let directory = open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            _ = fsync(directory)
            close(directory)
        }
    }

    func encode(into writer: inout SnapshotWriter) throws {
        try writer.write(array: Self.magic)
        try writer.write(Self.version)
        try writer.write(UInt32(graph.dimension))
        try writer.write(UInt32(graph.parameters.m))
        try writer.write(UInt32(graph.parameters.efConstruction))
        try writer.write(UInt64(graph.ids.count))
        try writer.write(graph.entry)
        try writer.write(UInt32(graph.topLevel))
        try writer.write(graph.random.state)
        try writer.write(string: identity)
        try writer.write(string: namespace)
        try writer.write(string: partition)
        try writer.write(array: graph.codes)
        try writer.write(array: graph.scales)
        try writer.write(array: graph.ids)
        try writer.write(array: graph.deleted.map { $0 ? UInt8(1) : 0 })
        try writer.write(array: graph.levels)
        try writer.write(array: graph.layer0)
        for node in graph.levels.indices where graph.levels[node] > 0 {
            let lists = graph.upper[Int32(node)] ?? []
            for layer in 0..<Int(graph.levels[node]) {
                let links = layer < lists.count ? lists[layer] : []
                try writer.write(UInt16(links.count))
                try writer.write(array: links)
            }
        }
    }

    /// Reads and checks the snapshot at `url`; `identity`, `dimension` and `parameters` (its
    /// `m` and `efConstruction`) must be the ones it was written with. The graph takes
    /// `parameters` (a changed `ef_search` applies at once).
    /// `maxNodes` bounds the graph a file may hold (the cache's entry limit with room for
    /// tombstones): a larger count is refused before anything is allocated for it.
    public static func read(from url: URL, identity: String, dimension: Int, parameters: HNSWGraph.Parameters, maxNodes: Int = Int(Int32.max)) throws -> GraphSnapshot {
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw GraphSnapshotError.io("\(url.path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw GraphSnapshotError.io(String(cString: strerror(errno))) }
        var reader = SnapshotReader(descriptor: descriptor, size: Int(status.st_size))
        let magic = try reader.read(array: UInt8.self, count: Self.magic.count)
        guard magic == Self.magic else { throw GraphSnapshotError.notASnapshot }
        let version = try reader.read(UInt32.self)
        guard version == Self.version else { throw GraphSnapshotError.unsupportedVersion(version) }
        let storedDimension = Int(try reader.read(UInt32.self)), m = Int(try reader.read(UInt32.self)), efConstruction = Int(try reader.read(UInt32.self))
        guard storedDimension == dimension else { throw GraphSnapshotError.mismatch("dimension \(storedDimension), expected \(dimension)") }
        guard m == parameters.m, efConstruction == parameters.efConstruction else {
            throw GraphSnapshotError.mismatch("m \(m) / ef_construction \(efConstruction), expected \(parameters.m) / \(parameters.efConstruction)")
        }
        let nodeCount = try reader.read(UInt64.self)
        guard nodeCount <= UInt64(max(0, maxNodes)) else { throw GraphSnapshotError.corrupt("\(nodeCount) nodes (at most \(maxNodes))") }
        let entry = try reader.read(Int32.self), topLevel = Int(try reader.read(UInt32.self)), randomState = try reader.read(UInt64.self)
        let storedIdentity = try reader.readString(maxBytes: maxNameBytes)
        guard storedIdentity == identity else { throw GraphSnapshotError.mismatch("embedder '\(storedIdentity.prefix(200))', expected '\(identity)'") }
        let namespace = try reader.readString(maxBytes: maxNameBytes), partition = try reader.readString(maxBytes: maxNameBytes)
        // Bound the node count by the bytes left before allocating anything for it.
        let maxLinks0 = parameters.m * 2
        let perNode = dimension + 4 + 8 + 1 + 1 + maxLinks0 * 4
        guard nodeCount <= UInt64(Int32.max), Int(nodeCount).multipliedReportingOverflow(by: perNode).partialValue <= reader.remaining,
              !Int(nodeCount).multipliedReportingOverflow(by: perNode).overflow
        else { throw GraphSnapshotError.truncated }
        let count = Int(nodeCount)
        var graph = HNSWGraph(dimension: dimension, parameters: parameters)
        graph.codes = try reader.read(array: Int8.self, count: count * dimension)
        graph.scales = try reader.read(array: Float.self, count: count)
        graph.ids = try reader.read(array: Int64.self, count: count)
        let deleted = try reader.read(array: UInt8.self, count: count)
        graph.levels = try reader.read(array: UInt8.self, count: count)
        graph.layer0 = try reader.read(array: Int32.self, count: count * maxLinks0)
        for node in 0..<count where graph.levels[node] > 0 {
            guard graph.levels[node] <= HNSWGraph.maxLevel else { throw GraphSnapshotError.corrupt("node \(node) on level \(graph.levels[node])") }
            var lists = [[Int32]]()
            for _ in 0..<Int(graph.levels[node]) {
                let length = Int(try reader.read(UInt16.self))
                guard length <= parameters.m else { throw GraphSnapshotError.corrupt("\(length) links above layer 0 (at most \(parameters.m))") }
                lists.append(try reader.read(array: Int32.self, count: length))
            }
            graph.upper[Int32(node)] = lists
        }
        try reader.verifyDigest()
        graph.deleted = deleted.map { $0 != 0 }
        graph.entry = entry
        graph.topLevel = topLevel
        graph.random = .init(seed: randomState)
        try graph.validateRestored(deletedFlags: deleted)
        return GraphSnapshot(namespace: namespace, partition: partition, identity: identity, graph: graph)
    }
}

extension HNSWGraph {
    /// The highest level `drawLevel` gives a node.
    static let maxLevel: UInt8 = 16

    /// Checks every invariant a search relies on (links in range and on nodes that have the
    /// layer, a sane entry point, finite scales, codes in ±127, unique live ids), then rebuilds
    /// the id → node map and the tombstone count.
    mutating func validateRestored(deletedFlags: [UInt8]) throws {
        let count = ids.count
        guard count > 0 else { throw GraphSnapshotError.corrupt("an empty graph") }
        guard entry >= 0, Int(entry) < count, Int(levels[Int(entry)]) == topLevel, topLevel <= Int(Self.maxLevel) else {
            throw GraphSnapshotError.corrupt("entry point \(entry) on level \(topLevel)")
        }
        if let flag = deletedFlags.first(where: { $0 > 1 }) { throw GraphSnapshotError.corrupt("deleted flag \(flag)") }
        if scales.contains(where: { !$0.isFinite || $0 < 0 }) { throw GraphSnapshotError.corrupt("a scale that is not a finite non-negative number") }
        if codes.contains(Int8.min) { throw GraphSnapshotError.corrupt("code -128") }
        let limit = Int32(count)
        if layer0.contains(where: { $0 < -1 || $0 >= limit }) { throw GraphSnapshotError.corrupt("a layer-0 link out of range") }
        for (node, lists) in upper {
            for (index, links) in lists.enumerated() {
                let layer = index + 1
                for link in links where link < 0 || link >= limit || Int(levels[Int(link)]) < layer {
                    throw GraphSnapshotError.corrupt("node \(node) links to \(link) on layer \(layer)")
                }
            }
        }
        var positions = [Int64: Int32](minimumCapacity: count)
        var tombstones = 0
        for node in 0..<count {
            if deleted[node] {
                tombstones += 1
            } else if positions.updateValue(Int32(node), forKey: ids[node]) != nil {
                throw GraphSnapshotError.corrupt("id \(ids[node]) twice")
            }
        }
        self.positions = positions
        self.tombstones = tombstones
    }
}
