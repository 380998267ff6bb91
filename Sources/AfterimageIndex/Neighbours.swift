import CBLAS

/// What a partition search found: either the exact best (scores are float32 dot products), or a
/// graph's candidates with approximate int8 scores that the caller re-ranks against the stored
/// float32 vectors (`reranked`) before comparing any score with a threshold.
public struct Neighbours: Sendable {
    public var candidates: [(id: Int64, score: Float)]
    /// Whether `candidates`' scores are exact.
    public var exact: Bool

    public init(candidates: [(id: Int64, score: Float)], exact: Bool) {
        self.candidates = candidates
        self.exact = exact
    }

    /// Graph candidates handed out for re-ranking when `k` are asked for: int8 scores are close
    /// enough that the true best `k` are among the first few more.
    public static func rerankDepth(_ k: Int) -> Int { max(2 * k, k + 8) }

    /// The candidates' ids, best first.
    public var ids: [Int64] { candidates.map(\.id) }

    /// The best `k` by exact dot product with `query`, from `vectors` (the candidates' stored
    /// float32 vectors); a candidate without a vector there (deleted, expired, or of another
    /// dimension) is dropped. Exact candidates are returned as they are.
    public func reranked(query: [Float], vectors: [Int64: [Float]], k: Int) -> [(id: Int64, score: Float)] {
        guard !exact else { return Array(candidates.prefix(k)) }
        var ids = [Int64](), scores = [Float]()
        for candidate in candidates {
            guard let vector = vectors[candidate.id], vector.count == query.count else { continue }
            ids.append(candidate.id)
            scores.append(cblas_sdot(Int32(query.count), query, 1, vector, 1))
        }
        return Self.topK(scores, ids: ids, k: k)
    }

    /// Partial selection of the best `k`, best first (a small buffer kept sorted by binary insertion).
    /// A NaN score (a vector with a NaN component) is never a neighbour: it compares with nothing,
    /// and kept it would stick wherever it first landed.
    static func topK(_ scores: [Float], ids: [Int64], k: Int) -> [(id: Int64, score: Float)] {
        var best: [(id: Int64, score: Float)] = []
        guard k > 0 else { return best }
        best.reserveCapacity(k + 1)
        for (index, score) in scores.enumerated() where !score.isNaN {
            if best.count == k, let worst = best.last, score <= worst.score { continue }
            var low = 0, high = best.count
            while low < high {
                let middle = (low + high) / 2
                if best[middle].score < score { high = middle } else { low = middle + 1 }
            }
            best.insert((ids[index], score), at: low)
            if best.count > k { best.removeLast() }
        }
        return best
    }
}
