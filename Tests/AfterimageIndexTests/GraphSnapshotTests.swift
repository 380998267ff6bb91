import AfterimageCore
import AfterimageIndex
import Crypto
import Foundation
import Testing

/// Graph snapshots: a written graph reads back to the same searches; damaged, foreign and hostile
/// files are refused with a reason (never trusted, never a crash); a restored index is
/// reconciled with the rows (new entries inserted, gone ones dropped) without a rebuild.
@Suite struct GraphSnapshotTests {
    static let dimension = HNSWGraphTests.dimension
    static let identity = "local/test-embedder//32"

    static func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("afterimage-snapshots-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func graph(_ vectors: [[Float]], deleting: Set<Int> = []) -> HNSWGraph {
        var graph = HNSWGraph(dimension: dimension)
        for (id, vector) in vectors.enumerated() { graph.insert(id: Int64(id), vector: vector) }
        for id in deleting { graph.remove(id: Int64(id)) }
        return graph
    }

    static func read(_ url: URL, identity: String = identity, parameters: HNSWGraph.Parameters = .init()) throws -> GraphSnapshot {
        try GraphSnapshot.read(from: url, identity: identity, dimension: dimension, parameters: parameters)
    }

    /// Rewrites the file's trailing SHA-256 after `edit`, so only the contents checks can refuse it.
    static func tamper(_ url: URL, _ edit: (inout [UInt8]) -> Void) throws {
        var bytes = Array(try Data(contentsOf: url))
        bytes.removeLast(SHA256.byteCount)
        edit(&bytes)
        bytes += Array(SHA256.hash(data: Data(bytes)))
        try Data(bytes).write(to: url)
    }

    /// Offset of the first node's codes (after the fixed header and three names).
    static func bodyOffset(namespace: String, partition: String) -> Int {
        8 + 4 * 4 + 8 + 4 + 4 + 8 + (4 + identity.utf8.count) + (4 + namespace.utf8.count) + (4 + partition.utf8.count)
    }

    @Test func aWrittenGraphReadsBackToTheSameSearches() throws {
        var random = SplitMix64(seed: 11)
        let vectors = HNSWGraphTests.clustered(3_000, clusters: 30, &random)
        let original = Self.graph(vectors, deleting: Set(stride(from: 0, to: 3_000, by: 7)))
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("p.hnsw")
        try GraphSnapshot(namespace: "team-a", partition: "gpt-image-1|1024x1024", identity: Self.identity, graph: original).write(to: url)
        let read = try Self.read(url)
        #expect(read.namespace == "team-a" && read.partition == "gpt-image-1|1024x1024")
        #expect(read.graph.count == original.count && read.graph.tombstones == original.tombstones && read.graph.nodeCount == 3_000)
        for query in HNSWGraphTests.clustered(100, clusters: 30, &random) {
            let a = original.candidates(query, k: 5), b = read.graph.candidates(query, k: 5)
            #expect(a.map(\.id) == b.map(\.id) && a.map(\.score) == b.map(\.score))
        }
        // The restored graph keeps taking inserts and deletes.
        var grown = read.graph
        grown.insert(id: 9_999, vector: vectors[1])
        #expect(grown.candidates(vectors[1], k: 2).map(\.id).contains(9_999))
        #expect(grown.remove(id: 1) && !grown.contains(1))
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(files == ["p.hnsw"], "no temporary file is left behind: \(files)")
    }

    @Test func damagedForeignAndHostileFilesAreRefused() throws {
        var random = SplitMix64(seed: 12)
        let graph = Self.graph(HNSWGraphTests.clustered(400, clusters: 8, &random))
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("p.hnsw")
        func fresh() throws { try GraphSnapshot(namespace: "n", partition: "p", identity: Self.identity, graph: graph).write(to: url) }
        func refusal(identity: String = Self.identity, parameters: HNSWGraph.Parameters = .init()) -> GraphSnapshotError? {
            do {
                _ = try Self.read(url, identity: identity, parameters: parameters)
                return nil
            } catch { return error as? GraphSnapshotError }
        }
        try fresh()
        #expect(refusal() == nil)
        #expect(refusal(identity: "local/other-model//32") == .mismatch("embedder 'local/test-embedder//32', expected 'local/other-model//32'"))
        if case .mismatch = refusal(parameters: .init(m: 8)) {} else { Issue.record("another m must be refused") }

        // One flipped bit in the codes, and a file cut short: the checksum and the length catch them.
        var bytes = try Data(contentsOf: url)
        bytes[Self.bodyOffset(namespace: "n", partition: "p") + 100] ^= 0x01
        try bytes.write(to: url)
        #expect(refusal() == .checksum)
        try fresh()
        try Data(try Data(contentsOf: url).prefix(5_000)).write(to: url)
        #expect(refusal() == .truncated)
        try Data("not a snapshot at all, just some text".utf8).write(to: url)
        #expect(refusal() == .notASnapshot)
        try Data().write(to: url)
        #expect(refusal() == .truncated)

        // Hostile contents behind a valid checksum: another version, a node count far beyond the
        // file (refused before anything is allocated for it), a link out of range, code -128,
        // a NaN scale, a 1 GB name.
        try fresh()
        try Self.tamper(url) { $0[8] = 2 }
        #expect(refusal() == .unsupportedVersion(2))
        try fresh()
        try Self.tamper(url) { bytes in
            for i in 0..<8 { bytes[8 + 16 + i] = i < 4 ? 0xFF : (i == 4 ? 0x7F : 0) }
        }
        #expect(refusal() == .corrupt("549755813887 nodes (at most 2147483647)"))
        try fresh()
        try Self.tamper(url) { bytes in
            for i in 0..<8 { bytes[8 + 16 + i] = [0x40, 0x42, 0x0F, 0, 0, 0, 0, 0][i] }  // 1,000,000 nodes in a 400-node file
        }
        #expect(refusal() == .truncated)
        let body = Self.bodyOffset(namespace: "n", partition: "p"), nodes = 400
        let layer0 = body + nodes * Self.dimension + nodes * 4 + nodes * 8 + nodes + nodes
        try fresh()
        try Self.tamper(url) { bytes in
            for i in 0..<4 { bytes[layer0 + i] = [0x40, 0x42, 0x0F, 0x00][i] }  // node 1,000,000
        }
        #expect(refusal() == .corrupt("a layer-0 link out of range"))
        try fresh()
        try Self.tamper(url) { $0[body + 3] = 0x80 }
        #expect(refusal() == .corrupt("code -128"))
        try fresh()
        try Self.tamper(url) { bytes in
            let scale = body + nodes * Self.dimension
            for i in 0..<4 { bytes[scale + i] = [0x00, 0x00, 0xC0, 0x7F][i] }
        }
        #expect(refusal() == .corrupt("a scale that is not a finite non-negative number"))
        try fresh()
        try Self.tamper(url) { bytes in
            let nameLength = 8 + 4 * 4 + 8 + 4 + 4 + 8 + (4 + Self.identity.utf8.count)
            for i in 0..<4 { bytes[nameLength + i] = [0x00, 0xCA, 0x9A, 0x3B][i] }
        }
        #expect(refusal() == .corrupt("a name of 1000000000 bytes (at most 4096)"))
        // More nodes than the cache may hold: refused from the header alone.
        try fresh()
        do {
            _ = try GraphSnapshot.read(from: url, identity: Self.identity, dimension: Self.dimension, parameters: .init(), maxNodes: 399)
            Issue.record("a graph above maxNodes must be refused")
        } catch let error as GraphSnapshotError {
            #expect(error == .corrupt("400 nodes (at most 399)"))
        }
    }

    @Test func aRestoredIndexIsReconciledWithTheRows() async throws {
        var random = SplitMix64(seed: 13)
        let vectors = HNSWGraphTests.clustered(1_200, clusters: 12, &random)
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = GraphSnapshotStore(directory: directory, identity: Self.identity)
        let partition = VectorIndex.PartitionID(namespace: "team", partition: "gpt-image-1")
        let first = VectorIndex(dimension: Self.dimension, annMinEntries: 500, snapshots: store)
        for id in 0..<1_000 { first.upsert(partition, id: Int64(id), vector: vectors[id]) }
        await first.waitForBuilds()
        #expect(first.usesGraph(partition))
        // The build wrote the snapshot; shutdown writes it again only if something changed since.
        #expect(FileManager.default.fileExists(atPath: store.url(for: partition).path))
        first.upsert(partition, id: 1_000, vector: vectors[1_000])
        #expect(first.writeSnapshots() == 1)
        #expect(first.writeSnapshots() == 0, "nothing changed since the last write")

        // A restart: rows 0..<900 still stored, 900...1000 deleted meanwhile, 1001..<1200 new,
        // row 5 stored again with another vector.
        let second = VectorIndex(dimension: Self.dimension, annMinEntries: 500, snapshots: store)
        let restored = second.restoreSnapshots()
        #expect(restored.partitions == 1 && restored.nodes == 1_001 && restored.rejected.isEmpty)
        #expect(second.usesGraph(partition), "searched through the restored graph at once")
        for id in 0..<900 { second.upsert(partition, id: Int64(id), vector: id == 5 ? vectors[1_150] : vectors[id]) }
        for id in 1_001..<1_200 { second.upsert(partition, id: Int64(id), vector: vectors[id]) }
        #expect(second.finishRestore() == 101)
        #expect(second.count == 1_099 && second.pendingBuilds == 0)
        let nearDeleted = second.search(partition, query: vectors[950], k: 20)
        #expect(!nearDeleted.ids.contains(where: { (900...1_000).contains($0) }), "deleted rows are never candidates")
        #expect(second.search(partition, query: vectors[1_100], k: 3).ids.contains(1_100))
        #expect(second.search(partition, query: vectors[1_150], k: 3).ids.contains(5), "row 5 carries its new vector")

        // A partition whose rows are all gone loses its graph and its file.
        let third = VectorIndex(dimension: Self.dimension, annMinEntries: 500, snapshots: store)
        #expect(third.restoreSnapshots().partitions == 1)
        #expect(third.finishRestore() == 1_001 && third.count == 0)
        #expect(!FileManager.default.fileExists(atPath: store.url(for: partition).path))
    }

    @Test func aDamagedSnapshotIsDeletedAndThePartitionBuiltAgain() async throws {
        var random = SplitMix64(seed: 14)
        let vectors = HNSWGraphTests.clustered(700, clusters: 7, &random)
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = GraphSnapshotStore(directory: directory, identity: Self.identity)
        let partition = VectorIndex.PartitionID(namespace: "n", partition: "p")
        let first = VectorIndex(dimension: Self.dimension, annMinEntries: 500, snapshots: store)
        for (id, vector) in vectors.enumerated() { first.upsert(partition, id: Int64(id), vector: vector) }
        await first.waitForBuilds()
        let url = store.url(for: partition)
        var bytes = try Data(contentsOf: url)
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: url)
        try Data("junk".utf8).write(to: directory.appendingPathComponent("stray.hnsw"))

        let second = VectorIndex(dimension: Self.dimension, annMinEntries: 500, snapshots: store)
        let restored = second.restoreSnapshots()
        #expect(restored.partitions == 0 && restored.rejected.count == 2, "\(restored.rejected)")
        #expect(!second.usesGraph(partition))
        for (id, vector) in vectors.enumerated() { second.upsert(partition, id: Int64(id), vector: vector) }
        second.finishRestore()
        await second.waitForBuilds()
        #expect(second.usesGraph(partition) && second.count == 700)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == [url.lastPathComponent], "rebuilt and written again; junk gone")
        // Another embedder's index does not take it.
        let foreign = VectorIndex(dimension: Self.dimension, annMinEntries: 500, snapshots: GraphSnapshotStore(directory: directory, identity: "remote/other//32"))
        #expect(foreign.restoreSnapshots().partitions == 0)
    }
}
