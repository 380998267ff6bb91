import AfterimageCore
import CBLAS
import Foundation

/// The order a graph build inserts many vectors in. In arrival order, consecutive inserts land
/// in unrelated parts of the graph, so each one's search reads ~2,000 nodes' codes from all over
/// memory (a 1M-node graph has 384 MB of them): the build waits on DRAM. Grouped by similarity,
/// consecutive inserts search the same neighbourhood and find its codes still in cache. Grouping
/// alone hurts the graph (early nodes see only their own region and cross-region links suffer:
/// recall@1 0.965 instead of 1.000 at 200k clustered vectors), so a scattered tenth goes in first
/// as a skeleton that spans the space, then the rest grouped: by the nearest of up to 256 pivots
/// (skeleton vectors), and within a pivot's group by a 16-bit random-projection code.
enum InsertionOrder {
    /// Fewer vectors than this are inserted as given (the build is short anyway).
    static let minimumCount = 10_000
    /// One vector in this many (chosen pseudo-randomly) belongs to the skeleton.
    static let skeletonShare = 10
    static let maxPivots = 256
    static let projectionBits = 16
    /// Vectors scored against the pivots per matrix product.
    static let chunk = 2_048

    /// Indices `0..<count` in insertion order. `withVector(i, body)` calls `body` with vector `i`
    /// (`dimension` floats; its buffer valid during the call) and returns what `body` returns.
    /// Deterministic for the same input.
    static func order(count: Int, dimension: Int, withVector: (Int, (UnsafeBufferPointer<Float>) -> UInt32) -> UInt32) -> [Int] {
        guard count >= minimumCount, dimension > 0 else { return Array(0..<count) }
        var random = SplitMix64(seed: 0x5CE1_E70B_0000_0001)
        var skeleton = [Int](), rest = [Int]()
        skeleton.reserveCapacity(count / skeletonShare + 1)
        rest.reserveCapacity(count)
        for index in 0..<count {
            if random.next() % UInt64(skeletonShare) == 0 { skeleton.append(index) } else { rest.append(index) }
        }
        // The skeleton in a scattered order (arrival order can itself be grouped: a burst of one topic).
        for position in stride(from: skeleton.count - 1, to: 0, by: -1) {
            skeleton.swapAt(position, Int(random.next() % UInt64(position + 1)))
        }
        let pivotCount = min(maxPivots, skeleton.count)
        guard pivotCount > 0 else { return skeleton + rest }
        // Pivots (rows), then the projection directions (rows), in one matrix: one product scores
        // a chunk of vectors against both.
        let columns = pivotCount + projectionBits
        var matrix = [Float](repeating: 0, count: columns * dimension)
        matrix.withUnsafeMutableBufferPointer { target in
            for pivot in 0..<pivotCount {
                _ = withVector(skeleton[pivot]) { vector in
                    for k in 0..<min(dimension, vector.count) { target[pivot * dimension + k] = vector[k] }
                    return 0
                }
            }
            for value in pivotCount * dimension..<columns * dimension { target[value] = random.gaussian() }
        }
        var keys = [UInt32](repeating: 0, count: rest.count)
        var block = [Float](repeating: 0, count: chunk * dimension), scores = [Float](repeating: 0, count: chunk * columns)
        for first in stride(from: 0, to: rest.count, by: chunk) {
            let rows = min(chunk, rest.count - first)
            block.withUnsafeMutableBufferPointer { block in
                for row in 0..<rows {
                    _ = withVector(rest[first + row]) { vector in
                        let valid = vector.count == dimension
                        for k in 0..<dimension { block[row * dimension + k] = valid ? vector[k] : 0 }
                        return 0
                    }
                }
                matrix.withUnsafeBufferPointer { matrix in
                    scores.withUnsafeMutableBufferPointer { scores in
                        cblas_sgemm(
                            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(columns), Int32(dimension), 1,
                            block.baseAddress!, Int32(dimension), matrix.baseAddress!, Int32(dimension), 0, scores.baseAddress!, Int32(columns)
                        )
                    }
                }
            }
            for row in 0..<rows {
                let base = row * columns
                var best = 0
                for pivot in 1..<pivotCount where scores[base + pivot] > scores[base + best] { best = pivot }
                var code: UInt32 = 0
                for bit in 0..<projectionBits where scores[base + pivotCount + bit] > 0 { code |= 1 << UInt32(bit) }
                keys[first + row] = UInt32(best) << 16 | code
            }
        }
        let grouped = rest.indices.sorted { keys[$0] != keys[$1] ? keys[$0] < keys[$1] : $0 < $1 }
        return skeleton + grouped.map { rest[$0] }
    }
}
