import CBLAS

/// One partition's vectors as contiguous float32 rows, searched with `cblas_sgemv`.
/// Not thread-safe on its own: `VectorIndex` serialises access.
public struct VectorPartition: Sendable {
    public let dimension: Int
    private(set) var rows: [Float] = []
    private(set) var ids: [Int64] = []
    private var positions: [Int64: Int] = [:]

    public init(dimension: Int) {
        self.dimension = dimension
    }

    public var count: Int { ids.count }

    /// Adds or replaces the vector of `id`.
    public mutating func upsert(id: Int64, vector: [Float]) {
        precondition(vector.count == dimension, "vector dimension \(vector.count) != \(dimension)")
        if let position = positions[id] {
            rows.replaceSubrange(position * dimension..<(position + 1) * dimension, with: vector)
            return
        }
        positions[id] = ids.count
        ids.append(id)
        rows.append(contentsOf: vector)
    }

    /// Removes `id` (swap with the last row); returns whether it was present.
    @discardableResult
    public mutating func remove(id: Int64) -> Bool {
        guard let position = positions.removeValue(forKey: id) else { return false }
        let last = ids.count - 1
        if position != last {
            let moved = ids[last]
            ids[position] = moved
            positions[moved] = position
            for j in 0..<dimension { rows[position * dimension + j] = rows[last * dimension + j] }
        }
        ids.removeLast()
        rows.removeLast(dimension)
        return true
    }

    /// The `k` rows with the highest dot product with `query` (cosine for unit vectors), best first.
    public func search(_ query: [Float], k: Int) -> [(id: Int64, score: Float)] {
        guard !ids.isEmpty, k > 0, query.count == dimension else { return [] }
        var scores = [Float](repeating: 0, count: ids.count)
        rows.withUnsafeBufferPointer { matrix in
            query.withUnsafeBufferPointer { vector in
                scores.withUnsafeMutableBufferPointer { out in
                    cblas_sgemv(
                        CblasRowMajor, CblasNoTrans, Int32(ids.count), Int32(dimension), 1,
                        matrix.baseAddress!, Int32(dimension), vector.baseAddress!, 1, 0, out.baseAddress!, 1
                    )
                }
            }
        }
        return Self.topK(scores, ids: ids, k: k)
    }

    /// Partial selection of the best `k` (a small sorted buffer: k is a handful).
    static func topK(_ scores: [Float], ids: [Int64], k: Int) -> [(id: Int64, score: Float)] {
        var best: [(id: Int64, score: Float)] = []
        best.reserveCapacity(k + 1)
        for (index, score) in scores.enumerated() {
            if best.count == k, let worst = best.last, score <= worst.score { continue }
            let insertAt = best.firstIndex { $0.score < score } ?? best.count
            best.insert((ids[index], score), at: insertAt)
            if best.count > k { best.removeLast() }
        }
        return best
    }
}
