import AfterimageEmbedding
import AfterimageIndex
import Testing

/// The in-memory vector partitions: best-first search, upserts and removals, separate partitions.
@Suite struct VectorIndexTests {
    @Test func partitionSearchReturnsBestFirstAndForgetsRemovedRows() {
        BLASRuntime.setThreads(1)
        var partition = VectorPartition(dimension: 3)
        partition.upsert(id: 1, vector: [1, 0, 0])
        partition.upsert(id: 2, vector: [0, 1, 0])
        partition.upsert(id: 3, vector: [0.8, 0.6, 0])
        let found = partition.search([1, 0, 0], k: 2).candidates
        #expect(found.map(\.id) == [1, 3])
        #expect(abs(found[1].score - 0.8) < 1e-6)
        partition.remove(id: 1)
        #expect(partition.search([1, 0, 0], k: 5).candidates.map(\.id) == [3, 2])
        partition.upsert(id: 3, vector: [0, 0, 1])
        #expect(partition.search([0, 0, 1], k: 1).candidates.first?.id == 3)
        #expect(partition.count == 2)
    }

    @Test func indexPartitionsAreSeparate() {
        let index = VectorIndex(dimension: 2)
        index.upsert(.init(namespace: "a", partition: "p"), id: 1, vector: [1, 0])
        index.upsert(.init(namespace: "b", partition: "p"), id: 2, vector: [1, 0])
        #expect(index.search(.init(namespace: "a", partition: "p"), query: [1, 0], k: 5).candidates.map(\.id) == [1])
        #expect(index.search(.init(namespace: "a", partition: "q"), query: [1, 0], k: 5).candidates.isEmpty)
        index.remove(id: 2)
        #expect(index.count == 1)
    }
}
