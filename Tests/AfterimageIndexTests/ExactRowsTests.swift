import AfterimageCore
@testable import AfterimageIndex
import CBLAS
import Foundation
import Testing

/// The exact scan's bounded first pass: whatever the data, its answer is the full float32 scan's
/// (same ids, same order, same scores), while it scores only a few rows in float32.
@Suite struct ExactRowsTests {
    /// The full scan's answer: float32 `sdot` of every row, best `k` in row order of ties.
    static func reference(_ rows: ExactRows, _ query: [Float], k: Int) -> [(id: Int64, score: Float)] {
        let scores = rows.ids.map { id in cblas_sdot(Int32(query.count), query, 1, rows.vector(of: id)!, 1) }
        return Neighbours.topK(scores, ids: rows.ids, k: k)
    }

    static func unit(_ vector: [Float]) -> [Float] {
        let norm = sqrt(vector.reduce(0) { $0 + $1 * $1 })
        return vector.map { $0 / max(norm, 1e-9) }
    }

    static func expectSame(_ found: [(id: Int64, score: Float)], _ expected: [(id: Int64, score: Float)], _ note: String) {
        #expect(found.map(\.id) == expected.map(\.id), "\(note)")
        #expect(zip(found, expected).allSatisfy { $0.score == $1.score || ($0.score.isNaN && $1.score.isNaN) }, "\(note)")
    }

    /// Clustered 384-dim vectors with exact duplicates and near-duplicates (the hard case for a
    /// bound: many rows within a hair of each other), queries on, near and between the rows.
    @Test func boundedSearchIsTheFullScan() {
        var random = SplitMix64(seed: 31)
        let dimension = 384
        let centres = (0..<40).map { _ in Self.unit((0..<dimension).map { _ in random.gaussian() }) }
        var rows = ExactRows(dimension: dimension)
        var stored = [[Float]]()
        for index in 0..<3_000 {
            let vector: [Float]
            if index % 10 == 9 {
                vector = stored[index - 1]  // an exact duplicate
            } else if index % 10 == 7, index > 100 {
                // Closer than the codes can tell apart: scores differ by less than the int8 error.
                vector = Self.unit(stored[100].map { $0 + random.gaussian() * 2e-5 })
            } else if index % 10 == 8 {
                vector = Self.unit(stored[index - 1].map { $0 + random.gaussian() * 0.001 })  // a near duplicate
            } else {
                vector = Self.unit(zip(centres[index % centres.count], (0..<dimension).map { _ in random.gaussian() * 0.05 }).map(+))
            }
            stored.append(vector)
            rows.upsert(id: Int64(index), vector: vector)
        }
        var scored = [Int]()
        for run in 0..<120 {
            let query: [Float] = switch run % 4 {
            case 3: Self.unit(stored[100].map { $0 + random.gaussian() * 0.01 })
            case 0: stored[(run * 37) % stored.count]
            case 1: Self.unit(stored[(run * 53) % stored.count].map { $0 + random.gaussian() * 0.02 })
            default: Self.unit((0..<dimension).map { _ in random.gaussian() })
            }
            for k in [1, 5, 13] {
                Self.expectSame(rows.search(query, k: k), Self.reference(rows, query, k: k), "run \(run) k \(k)")
            }
            scored.append(rows.boundedCandidates(query, k: 5)?.count ?? rows.count)
        }
        scored.sort()
        // Only rows the codes cannot rule out are scored in float32 (duplicates tie, so at least 5).
        #expect(scored[scored.count / 2] < rows.count / 5, "median rows scored in float32: \(scored[scored.count / 2]) of \(rows.count)")
    }

    /// Hostile rows — NaN, infinite, zero, huge and tiny components — and hostile queries: the
    /// answer is still the full scan's, and nothing traps.
    @Test func hostileRowsAndQueriesGiveTheFullScansAnswer() {
        var random = SplitMix64(seed: 32)
        let dimension = 64
        var rows = ExactRows(dimension: dimension)
        for index in 0..<1_200 {
            var vector = Self.unit((0..<dimension).map { _ in random.gaussian() })
            switch index % 200 {
            case 10: vector[3] = .nan
            case 20: vector[5] = .infinity
            case 30: vector = [Float](repeating: 0, count: dimension)
            case 40: vector = vector.map { $0 * 1e30 }
            case 50: vector = vector.map { $0 * 1e-30 }
            case 60: vector[0] = -.greatestFiniteMagnitude
            default: break
            }
            rows.upsert(id: Int64(index), vector: vector)
        }
        var queries = (0..<20).map { _ in Self.unit((0..<dimension).map { _ in random.gaussian() }) }
        queries.append([Float](repeating: 0, count: dimension))
        queries.append((0..<dimension).map { $0 == 1 ? Float.nan : 0.1 })
        queries.append((0..<dimension).map { _ in 1e-38 })
        queries.append((0..<dimension).map { _ in 1e30 })
        for (index, query) in queries.enumerated() {
            for k in [1, 5] {
                Self.expectSame(rows.search(query, k: k), Self.reference(rows, query, k: k), "query \(index) k \(k)")
            }
        }
        #expect(rows.search([1, 2, 3], k: 5).isEmpty, "a query of another dimension finds nothing")
        #expect(rows.search(queries[0], k: 0).isEmpty)
        let everything = rows.search(queries[0], k: 5_000)
        #expect(everything.count > rows.count - 12 && everything.allSatisfy { !$0.score.isNaN }, "every row but those scoring NaN")
    }

    /// Replacing and removing rows keeps codes, bounds and ids in step.
    @Test func upsertsAndRemovesKeepTheCodesInStep() {
        var random = SplitMix64(seed: 33)
        let dimension = 48
        var rows = ExactRows(dimension: dimension)
        var live = [Int64: [Float]]()
        for step in 0..<6_000 {
            let id = Int64(random.next() % 1_500)
            if step % 4 == 3 {
                #expect(rows.remove(id: id) == (live.removeValue(forKey: id) != nil))
            } else {
                let vector = Self.unit((0..<dimension).map { _ in random.gaussian() })
                rows.upsert(id: id, vector: vector)
                live[id] = vector
            }
        }
        #expect(rows.count == live.count)
        for (id, vector) in live { #expect(rows.vector(of: id) == vector) }
        for _ in 0..<30 {
            let query = Self.unit((0..<dimension).map { _ in random.gaussian() })
            Self.expectSame(rows.search(query, k: 5), Self.reference(rows, query, k: 5), "after churn")
        }
        rows.removeAll()
        #expect(rows.count == 0 && rows.search([Float](repeating: 0.1, count: dimension), k: 3).isEmpty)
    }
}
