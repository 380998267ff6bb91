import CBLAS

/// One partition's vectors as contiguous float32 rows, searched with `cblas_sgemv` — or, from
/// `annMinEntries` live vectors on, through an `HNSWGraph` whose candidates are re-ranked exactly
/// against the float32 rows (a neighbour the graph misses is a miss, never a wrong hit: the guard
/// still judges every candidate). Not thread-safe on its own: `VectorIndex` serialises access.
public struct VectorPartition: Sendable {
    public let dimension: Int
    /// Live vectors from which the graph is used (0: never).
    public let annMinEntries: Int
    public let graphParameters: HNSWGraph.Parameters
    private(set) var rows: [Float] = []
    private(set) var ids: [Int64] = []
    private var positions: [Int64: Int] = [:]
    private(set) var graph: HNSWGraph?
    /// Whether graph builds and compactions run inside the mutation that calls for them (true), or
    /// are left to the owner (`wantsBuild` / `beginBuild` / `finishBuild`, as `VectorIndex` does
    /// on a background thread while searches keep using the exact scan or the old graph).
    public let buildsInline: Bool
    /// Ids upserted or removed since `beginBuild`; nil when no build is running.
    private var changedDuringBuild: Set<Int64>?

    public init(dimension: Int, annMinEntries: Int = 0, graphParameters: HNSWGraph.Parameters = HNSWGraph.Parameters(), buildsInline: Bool = true) {
        self.dimension = dimension
        self.annMinEntries = max(0, annMinEntries)
        self.graphParameters = graphParameters
        self.buildsInline = buildsInline
    }

    public var count: Int { ids.count }

    /// Whether `id` is in the partition.
    public func positionsContain(_ id: Int64) -> Bool { positions[id] != nil }

    /// Whether searches go through the approximate graph.
    public var usesGraph: Bool { graph != nil }

    /// Builds the graph once the partition reaches `annMinEntries`; drops it below half of that;
    /// compacts it when tombstones pile up.
    private mutating func maintainGraph() {
        if graph != nil, ids.count < annMinEntries / 2 {
            graph = nil
        } else if buildsInline, graph == nil, annMinEntries > 0, ids.count >= annMinEntries {
            graph = Self.buildGraph(ids: ids, rows: rows, dimension: dimension, parameters: graphParameters)
        } else if buildsInline, let current = graph, current.needsCompaction {
            graph = current.compacted()
        }
    }

    /// Whether a background build should start: the partition crossed `annMinEntries` without a
    /// graph, or the graph's tombstones call for a rebuild — and no build is running.
    public var wantsBuild: Bool {
        guard !buildsInline, changedDuringBuild == nil, annMinEntries > 0 else { return false }
        if let graph { return graph.needsCompaction }
        return ids.count >= annMinEntries
    }

    /// Starts tracking changes and returns the rows to build from (copy-on-write: no copy is made
    /// unless the partition changes while the build runs).
    public mutating func beginBuild() -> (ids: [Int64], rows: [Float]) {
        changedDuringBuild = []
        return (ids, rows)
    }

    /// A graph over `ids`' rows (the slow part of a build; call it outside any lock).
    public static func buildGraph(ids: [Int64], rows: [Float], dimension: Int, parameters: HNSWGraph.Parameters) -> HNSWGraph {
        var built = HNSWGraph(dimension: dimension, parameters: parameters)
        for (position, id) in ids.enumerated() { built.insert(id: id, vector: Array(rows[position * dimension..<(position + 1) * dimension])) }
        return built
    }

    /// Installs a graph built from `beginBuild`'s snapshot after replaying what changed since;
    /// discards it when the partition has meanwhile shrunk below half of `annMinEntries`.
    public mutating func finishBuild(_ built: HNSWGraph) {
        guard let changed = changedDuringBuild else { return }
        changedDuringBuild = nil
        guard ids.count >= annMinEntries / 2, ids.count > 0 else {
            graph = nil
            return
        }
        var graph = built
        for id in changed {
            if let position = positions[id] {
                graph.insert(id: id, vector: Array(rows[position * dimension..<(position + 1) * dimension]))
            } else {
                graph.remove(id: id)
            }
        }
        self.graph = graph
    }

    /// Adds or replaces the vector of `id`.
    public mutating func upsert(id: Int64, vector: [Float]) {
        precondition(vector.count == dimension, "vector dimension \(vector.count) != \(dimension)")
        if let position = positions[id] {
            rows.replaceSubrange(position * dimension..<(position + 1) * dimension, with: vector)
            graph?.insert(id: id, vector: vector)
            changedDuringBuild?.insert(id)
            return
        }
        positions[id] = ids.count
        ids.append(id)
        rows.append(contentsOf: vector)
        graph?.insert(id: id, vector: vector)
        changedDuringBuild?.insert(id)
        maintainGraph()
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
        graph?.remove(id: id)
        changedDuringBuild?.insert(id)
        maintainGraph()
        return true
    }

    /// The `k` rows with the highest dot product with `query` (cosine for unit vectors), best first.
    public func search(_ query: [Float], k: Int) -> [(id: Int64, score: Float)] {
        guard !ids.isEmpty, k > 0, query.count == dimension else { return [] }
        if let graph {
            // Exact float32 re-ranking of the graph's candidates.
            let candidates = graph.candidates(query, k: k).compactMap { positions[$0.id].map { ($0, $0) } }
            let scores = candidates.map { position, _ in
                rows.withUnsafeBufferPointer { matrix in
                    query.withUnsafeBufferPointer { vector in
                        cblas_sdot(Int32(dimension), matrix.baseAddress! + position * dimension, 1, vector.baseAddress!, 1)
                    }
                }
            }
            return Self.topK(scores, ids: candidates.map { ids[$0.0] }, k: k)
        }
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
