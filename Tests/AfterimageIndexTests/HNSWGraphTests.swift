import AfterimageCore
import AfterimageIndex
import Foundation
import Testing

/// The approximate index against the exact scan: recall on clustered vectors, tombstones,
/// compaction, and the switch between graph and scan by partition size.
@Suite struct HNSWGraphTests {
    static let dimension = 32

    /// `count` unit vectors around `clusters` random centres (a realistic, hard case for a graph).
    static func clustered(_ count: Int, clusters: Int, _ random: inout SplitMix64) -> [[Float]] {
        func unit(_ vector: [Float]) -> [Float] {
            let norm = sqrt(vector.reduce(0) { $0 + $1 * $1 })
            return vector.map { $0 / max(norm, 1e-9) }
        }
        let centres = (0..<clusters).map { _ in unit((0..<dimension).map { _ in random.gaussian() }) }
        return (0..<count).map { index in unit(zip(centres[index % clusters], (0..<dimension).map { _ in random.gaussian() * 0.25 }).map(+)) }
    }

    /// The stored vectors by id, as the cache store hands them out for re-ranking.
    static func stored(_ vectors: [[Float]]) -> [Int64: [Float]] {
        Dictionary(uniqueKeysWithValues: vectors.enumerated().map { (Int64($0.offset), $0.element) })
    }

    @Test func recallAtOneAgainstTheExactScan() {
        var random = SplitMix64(seed: 7)
        let vectors = Self.clustered(5_000, clusters: 50, &random)
        let stored = Self.stored(vectors)
        var exact = VectorPartition(dimension: Self.dimension)
        var approximate = VectorPartition(dimension: Self.dimension, annMinEntries: 1_000)
        for (id, vector) in vectors.enumerated() {
            exact.upsert(id: Int64(id), vector: vector)
            approximate.upsert(id: Int64(id), vector: vector)
        }
        #expect(approximate.usesGraph && !exact.usesGraph)
        let queries = Self.clustered(500, clusters: 50, &random)
        var agree = 0
        for query in queries {
            let truthFound = exact.search(query, k: 1), graphFound = approximate.search(query, k: 1)
            #expect(truthFound.exact && !graphFound.exact && graphFound.candidates.count == Neighbours.rerankDepth(1))
            let truth = truthFound.candidates.first, found = graphFound.reranked(query: query, vectors: stored, k: 1).first
            if truth?.id == found?.id { agree += 1 }
            // Re-ranked scores are exact float32 dot products, never the int8 approximation.
            if let found, let truth, found.id == truth.id { #expect(abs(found.score - truth.score) < 1e-5) }
        }
        let recall = Double(agree) / Double(queries.count)
        print("HNSW recall@1 on 5,000 clustered vectors: \(recall)")
        #expect(recall >= 0.99)
    }

    /// At MiniLM's 384 dimensions the graph (int8 codes and links) holds about a third of what
    /// the float32 rows took: the rows are released once the graph is installed.
    @Test func aGraphPartitionReleasesItsFloatRows() {
        var random = SplitMix64(seed: 3)
        var exact = VectorPartition(dimension: 384), graphed = VectorPartition(dimension: 384, annMinEntries: 500)
        for id in 0..<2_000 {
            let vector = (0..<384).map { _ in Float(Int(random.next() % 2_001) - 1_000) / 20_000 }
            exact.upsert(id: Int64(id), vector: vector)
            graphed.upsert(id: Int64(id), vector: vector)
        }
        #expect(graphed.usesGraph && graphed.count == 2_000)
        #expect(graphed.approximateBytes < exact.approximateBytes * 4 / 10, "\(graphed.approximateBytes) vs \(exact.approximateBytes)")
    }

    @Test func rerankingDropsCandidatesWithoutAStoredVectorAndOrdersExactly() {
        let found = Neighbours(candidates: [(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6)], exact: false)
        // 1 is gone from the store, 4 has a vector of another dimension; 3 is really the best.
        let vectors: [Int64: [Float]] = [2: [0.5, 0.5], 3: [1, 0], 4: [1, 0, 0]]
        let ranked = found.reranked(query: [1, 0], vectors: vectors, k: 5)
        #expect(ranked.map(\.id) == [3, 2] && ranked.map(\.score) == [1, 0.5])
        #expect(found.reranked(query: [1, 0], vectors: vectors, k: 1).map(\.id) == [3])
        #expect(found.reranked(query: [1, 0], vectors: vectors, k: 0).isEmpty)
        let exact = Neighbours(candidates: [(7, 0.5), (8, 0.4)], exact: true)
        #expect(exact.reranked(query: [1, 0], vectors: [:], k: 1).map(\.id) == [7], "exact results are kept as they are")
    }

    @Test func deletesAreTombstonesAndCompactionKeepsTheLiveOnes() {
        var random = SplitMix64(seed: 11)
        let vectors = Self.clustered(1_500, clusters: 15, &random)
        var partition = VectorPartition(dimension: Self.dimension, annMinEntries: 500)
        for (id, vector) in vectors.enumerated() { partition.upsert(id: Int64(id), vector: vector) }
        for id in 0..<1_050 { partition.remove(id: Int64(id)) }
        #expect(partition.count == 450 && partition.usesGraph)
        for query in vectors.prefix(200) {
            let found = partition.search(query, k: 5)
            #expect(found.candidates.allSatisfy { $0.id >= 1_050 }, "a deleted vector is never returned")
        }
        // The vectors still there are found as their own nearest neighbour.
        let stored = Self.stored(vectors)
        var selfFound = 0
        for id in 1_050..<1_250 where partition.search(vectors[id], k: 1).reranked(query: vectors[id], vectors: stored, k: 1).first?.id == Int64(id) { selfFound += 1 }
        #expect(selfFound >= 198)
        // A small partition keeps its graph (its float32 rows are gone) and still finds its rows.
        for id in 1_050..<1_490 { partition.remove(id: Int64(id)) }
        #expect(partition.count == 10 && partition.usesGraph)
        for id in 1_490..<1_500 { #expect(partition.search(vectors[id], k: 1).reranked(query: vectors[id], vectors: stored, k: 1).first?.id == Int64(id)) }
        // A vector replaced in graph mode is found under its new value only.
        partition.upsert(id: 1_495, vector: vectors[0])
        #expect(partition.count == 10)
        #expect(partition.search(vectors[0], k: 1).reranked(query: vectors[0], vectors: [1_495: vectors[0]], k: 1).first?.id == 1_495)
    }

    /// `VectorIndex` builds graphs on its builder thread: searches keep answering (exactly) while
    /// the build runs, and what changed meanwhile — deletes, new rows, replaced vectors — is
    /// replayed before the graph is installed.
    @Test func backgroundBuildReplaysWhatChangedMeanwhile() async {
        var random = SplitMix64(seed: 23)
        let vectors = Self.clustered(4_000, clusters: 40, &random)
        let index = VectorIndex(dimension: Self.dimension, annMinEntries: 2_000)
        let partition = VectorIndex.PartitionID(namespace: "n", partition: "p")
        for id in 0..<2_000 { index.upsert(partition, id: Int64(id), vector: vectors[id]) }
        // The build has been handed to the builder thread; keep writing and searching meanwhile.
        for id in 2_000..<2_600 { index.upsert(partition, id: Int64(id), vector: vectors[id]) }
        for id in 0..<300 { index.remove(partition, id: Int64(id)) }
        index.upsert(partition, id: 500, vector: vectors[3_999])
        #expect(index.search(partition, query: vectors[1_000], k: 1).candidates.first?.id == 1_000)
        await index.waitForBuilds()
        #expect(index.usesGraph(partition))
        #expect(index.pendingBuilds == 0)
        var stored = Self.stored(Array(vectors.prefix(2_600)))
        stored[500] = vectors[3_999]
        func nearest(_ query: [Float]) -> Int64? { index.search(partition, query: query, k: 1).reranked(query: query, vectors: stored, k: 1).first?.id }
        var selfFound = 0
        for id in 300..<2_600 where id != 500 && nearest(vectors[id]) == Int64(id) { selfFound += 1 }
        #expect(selfFound >= 2_250, "\(selfFound) of 2,299 rows found as their own nearest neighbour")
        for query in vectors.prefix(300) {
            #expect(index.search(partition, query: query, k: 5).candidates.allSatisfy { $0.id >= 300 }, "a row deleted during the build is never returned")
        }
        #expect(nearest(vectors[3_999]) == 500, "a vector replaced during the build is found under its new value")
        // Emptying the partition drops it; a late build result for it is ignored.
        for id in 300..<2_600 { index.remove(partition, id: Int64(id)) }
        await index.waitForBuilds()
        #expect(index.count == 0 && !index.usesGraph(partition))
    }

    /// A startup load streams a whole partition in while its first graph is built from the first
    /// rows: the builder catches up outside the lock in rounds, then installs a graph with them all.
    @Test func aBuildCatchesUpWithAPartitionLoadedMeanwhile() async {
        var random = SplitMix64(seed: 29)
        let vectors = Self.clustered(6_000, clusters: 60, &random)
        let index = VectorIndex(dimension: Self.dimension, annMinEntries: 300)
        let partition = VectorIndex.PartitionID(namespace: "n", partition: "p")
        for (id, vector) in vectors.enumerated() { index.upsert(partition, id: Int64(id), vector: vector) }
        await index.waitForBuilds()
        #expect(index.usesGraph(partition) && index.count == 6_000)
        let stored = Self.stored(vectors)
        var selfFound = 0
        for id in stride(from: 0, to: 6_000, by: 7) where index.search(partition, query: vectors[id], k: 1).reranked(query: vectors[id], vectors: stored, k: 1).first?.id == Int64(id) {
            selfFound += 1
        }
        #expect(selfFound >= 850, "\(selfFound) of 858 rows found as their own nearest neighbour")
    }

    @Test func graphAloneHandlesReplacementAndHostileVectors() {
        var graph = HNSWGraph(dimension: 4, parameters: .init(m: 1_000_000, efConstruction: -5, efSearch: Int.max, entryEf: Int.min))
        #expect(graph.parameters.m == 64 && graph.parameters.efConstruction == 8 && graph.parameters.efSearch == 1_000 && graph.parameters.entryEf == 1)
        #expect(HNSWGraph.Parameters(entryEf: Int.max).entryEf == 1_000)
        graph.insert(id: 1, vector: [1, 0, 0, 0])
        graph.insert(id: 2, vector: [0, 1, 0, 0])
        graph.insert(id: 1, vector: [0, 0, 1, 0])
        #expect(graph.count == 2 && graph.tombstones == 1)
        #expect(graph.candidates([0, 0, 1, 0], k: 1).first?.id == 1)
        graph.insert(id: 3, vector: [0, 0, 0, 0])
        graph.insert(id: 4, vector: [.nan, 1, 0, 0])
        #expect(graph.candidates([0, 1, 0, 0], k: 2).count <= 4)
        #expect(graph.candidates([1, 2, 3], k: 1).isEmpty, "a query of the wrong dimension finds nothing")
        #expect(graph.candidates([0, 1, 0, 0], k: 0).isEmpty)
        #expect(graph.candidates([0, 0, 1, 0], k: 1, ef: -1, entryEf: Int.max).first?.id == 1, "hostile overrides are clamped")
        let removed = graph.remove(id: 99)
        #expect(!removed)
    }
}
