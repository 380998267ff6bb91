@testable import AfterimageIndex
import AfterimageCore
import Foundation
import Testing

/// The insertion order of large builds: a permutation, deterministic, a scattered skeleton first,
/// then similar vectors together; hostile vectors (wrong length, NaN) change the order only.
@Suite struct InsertionOrderTests {
    static let dimension = HNSWGraphTests.dimension

    static func order(_ vectors: [[Float]]) -> [Int] {
        InsertionOrder.order(count: vectors.count, dimension: dimension) { index, body in vectors[index].withUnsafeBufferPointer(body) }
    }

    @Test func smallBuildsKeepTheirOrder() {
        var random = SplitMix64(seed: 1)
        let vectors = HNSWGraphTests.clustered(InsertionOrder.minimumCount - 1, clusters: 10, &random)
        #expect(Self.order(vectors) == Array(vectors.indices))
    }

    @Test func largeBuildsGetAScatteredSkeletonThenGroups() {
        var random = SplitMix64(seed: 2)
        let count = 12_000, clusters = 20
        // clustered(_:) puts vector i around centre i % clusters.
        let vectors = HNSWGraphTests.clustered(count, clusters: clusters, &random)
        let order = Self.order(vectors)
        #expect(order.sorted() == Array(0..<count), "a permutation")
        #expect(order == Self.order(vectors), "deterministic")
        // The skeleton (about a tenth) comes from everywhere in the input and from every cluster.
        let skeleton = order.prefix(count / InsertionOrder.skeletonShare * 8 / 10)
        #expect(Set(skeleton.map { $0 * 10 / count }).count == 10)
        #expect(Set(skeleton.map { $0 % clusters }).count == clusters)
        // After it, neighbours in the order mostly share a cluster (1 in 20 by chance; 64% seen).
        let grouped = Array(order.suffix(count * 8 / 10))
        let same = zip(grouped, grouped.dropFirst()).filter { $0 % clusters == $1 % clusters }.count
        #expect(same * 2 > grouped.count, "\(same) of \(grouped.count) adjacent pairs share a cluster")
    }

    @Test func hostileVectorsOnlyChangeTheOrder() {
        var random = SplitMix64(seed: 3)
        var vectors = HNSWGraphTests.clustered(11_000, clusters: 5, &random)
        for index in stride(from: 0, to: vectors.count, by: 7) { vectors[index] = [Float](repeating: .nan, count: Self.dimension) }
        for index in stride(from: 3, to: vectors.count, by: 11) { vectors[index] = [1, 2] }
        for index in stride(from: 5, to: vectors.count, by: 13) { vectors[index] = [Float](repeating: .infinity, count: Self.dimension * 2) }
        let order = Self.order(vectors)
        #expect(order.sorted() == Array(vectors.indices))
    }

    /// A large catch-up batch (a start streaming rows in during the first build) goes in grouped:
    /// every insert and removal still applies, and the graph finds what it holds.
    @Test func aLargeBatchAppliesCompletely() {
        var random = SplitMix64(seed: 4)
        let vectors = HNSWGraphTests.clustered(13_000, clusters: 40, &random)
        var graph = HNSWGraph(dimension: Self.dimension)
        for id in 0..<1_000 { graph.insert(id: Int64(id), vector: vectors[id]) }
        var changes: [(id: Int64, vector: [Float]?)] = (1_000..<13_000).map { (Int64($0), vectors[$0]) }
        changes += (0..<100).map { (Int64($0), nil) }
        VectorPartition.apply(changes, to: &graph)
        #expect(graph.count == 12_900)
        #expect(!graph.contains(5) && graph.contains(500) && graph.contains(12_999))
        var found = 0
        for id in stride(from: 1_000, to: 13_000, by: 60) where graph.candidates(vectors[id], k: 5).contains(where: { $0.id == Int64(id) }) { found += 1 }
        #expect(found >= 195, "\(found) of 200 inserted vectors found")
    }
}
