/// One partition's vectors. Below `annMinEntries` live vectors: `ExactRows`, searched exactly (a
/// first pass over int8 codes bounds every score; float32 only where the bound cannot decide).
/// From there on: an `HNSWGraph` over int8 codes only — the float32
/// rows are released (a million 384-dim rows are 1.5 GB; the graph holds them in ~0.55 GB) and
/// searches return approximate candidates for the caller to re-rank exactly against the stored
/// vectors (`Neighbours.reranked`). A neighbour the graph misses is a miss, never a wrong hit: the
/// guard still judges every candidate. A partition keeps its graph once it has one (its float32
/// rows are gone), however small it becomes. Not thread-safe on its own: `VectorIndex`
/// serialises access.
public struct VectorPartition: Sendable {
    public let dimension: Int
    /// Live vectors from which the graph is used (0: never).
    public let annMinEntries: Int
    public let graphParameters: HNSWGraph.Parameters
    /// Exact mode only (empty once a graph is installed).
    private var exact: ExactRows
    /// The graph, once the partition has one.
    public private(set) var graph: HNSWGraph?
    /// Whether graph builds and compactions run inside the mutation that calls for them (true), or
    /// are left to the owner (`wantsBuild` / `beginBuild` / `finishBuild`, as `VectorIndex` does
    /// on a background thread while searches keep using the exact scan or the old graph).
    public let buildsInline: Bool
    /// Ids upserted or removed since `beginBuild`; nil when no build is running.
    private var changedDuringBuild: Set<Int64>?
    /// Counts changes (upserts that change something, removals); a snapshot records the revision
    /// it holds, so the partition knows whether its snapshot is stale.
    public private(set) var revision: UInt64 = 0
    /// The revision the partition's snapshot file holds (nil: none written or restored).
    public private(set) var snapshotRevision: UInt64?
    /// While a restored graph is reconciled with the rows: which of its nodes a row confirmed.
    private var confirmedNodes: [Bool]?

    /// What a build starts from: the exact rows (the first graph) or the current graph (a
    /// compaction, rebuilt from its codes).
    public enum BuildSource: Sendable {
        case rows(ids: [Int64], rows: [Float])
        case compaction(HNSWGraph)
    }

    public init(dimension: Int, annMinEntries: Int = 0, graphParameters: HNSWGraph.Parameters = HNSWGraph.Parameters(), buildsInline: Bool = true) {
        self.dimension = dimension
        self.annMinEntries = max(0, annMinEntries)
        self.graphParameters = graphParameters
        self.buildsInline = buildsInline
        self.exact = ExactRows(dimension: dimension)
    }

    /// Live vectors.
    public var count: Int { graph?.count ?? exact.count }

    /// Whether `id` is in the partition.
    public func positionsContain(_ id: Int64) -> Bool { graph?.contains(id) ?? exact.contains(id) }

    /// Whether searches go through the approximate graph.
    public var usesGraph: Bool { graph != nil }

    /// Whether the partition has a graph its snapshot file does not hold.
    public var snapshotIsStale: Bool { graph != nil && snapshotRevision != revision }

    /// Records that a snapshot of the graph at `revision` was written.
    public mutating func snapshotWritten(at revision: UInt64) { snapshotRevision = revision }

    /// Starts from a graph read from a snapshot: the rows loaded next confirm its nodes
    /// (`upsert` of an unchanged vector) or change it; `finishRestore` then drops the nodes no
    /// row confirmed (entries deleted or expired since it was written).
    public mutating func restore(_ restored: HNSWGraph) {
        graph = restored
        exact.removeAll()
        changedDuringBuild = nil
        confirmedNodes = [Bool](repeating: false, count: restored.nodeCount)
        snapshotRevision = revision
    }

    /// Ends a restore: removes the restored nodes no row confirmed; returns how many.
    @discardableResult
    public mutating func finishRestore() -> Int {
        guard let confirmed = confirmedNodes, graph != nil else { return 0 }
        confirmedNodes = nil
        var removed = 0
        for node in confirmed.indices where !confirmed[node] && graph!.remove(node: node) { removed += 1 }
        if removed > 0 { revision &+= 1 }
        maintainGraph()
        return removed
    }

    /// Bytes held for the vectors (rows, or the graph's codes and links), without allocator overhead.
    public var approximateBytes: Int {
        exact.approximateBytes + (graph?.approximateBytes ?? 0)
    }

    /// Builds the graph once the partition reaches `annMinEntries`, or compacts it when tombstones
    /// pile up (inline builds only).
    private mutating func maintainGraph() {
        guard buildsInline else { return }
        if graph == nil, annMinEntries > 0, exact.count >= annMinEntries {
            changedDuringBuild = []
            finishBuild(Self.buildGraph(from: .rows(ids: exact.ids, rows: exact.rows), dimension: dimension, parameters: graphParameters))
        } else if let current = graph, current.needsCompaction {
            graph = current.compacted()
        }
    }

    /// Whether a background build should start: the partition crossed `annMinEntries` without a
    /// graph, or the graph's tombstones call for a rebuild — and no build is running.
    public var wantsBuild: Bool {
        guard !buildsInline, changedDuringBuild == nil, annMinEntries > 0 else { return false }
        if let graph { return graph.needsCompaction }
        return exact.count >= annMinEntries
    }

    /// Starts tracking changes and returns what to build from (copy-on-write: nothing is copied
    /// unless the partition changes while the build runs).
    public mutating func beginBuild() -> BuildSource {
        changedDuringBuild = []
        if let graph { return .compaction(graph) }
        return .rows(ids: exact.ids, rows: exact.rows)
    }

    /// A graph from `source` (the slow part of a build; call it outside any lock).
    public static func buildGraph(from source: BuildSource, dimension: Int, parameters: HNSWGraph.Parameters) -> HNSWGraph {
        switch source {
        case .compaction(let graph):
            return graph.compacted()
        case .rows(let ids, let rows):
            var built = HNSWGraph(dimension: dimension, parameters: parameters)
            let order = rows.withUnsafeBufferPointer { all in
                InsertionOrder.order(count: ids.count, dimension: dimension) { index, body in
                    body(UnsafeBufferPointer(rebasing: all[index * dimension..<(index + 1) * dimension]))
                }
            }
            for position in order { built.insert(id: ids[position], vector: Array(rows[position * dimension..<(position + 1) * dimension])) }
            return built
        }
    }

    /// Changes since `beginBuild` (or the last `takeChanges`) with the vectors they have now (nil:
    /// removed), and tracking starts afresh — for a build to catch up outside the lock before it
    /// is installed, when replaying them under the lock would hold it too long.
    public mutating func takeChanges() -> [(id: Int64, vector: [Float]?)] {
        guard let changed = changedDuringBuild else { return [] }
        changedDuringBuild = []
        return changed.map { ($0, currentVector(of: $0)) }
    }

    /// Changes waiting for the running build (0 when none is running).
    public var pendingChanges: Int { changedDuringBuild?.count ?? 0 }

    /// Applies changes taken with `takeChanges` to a graph being built.
    /// Removals first, then inserts — many of them (a startup load streaming in during the first
    /// build) in `InsertionOrder`. Each id appears once, so the order changes nothing but speed.
    public static func apply(_ changes: [(id: Int64, vector: [Float]?)], to graph: inout HNSWGraph) {
        var inserts = [(id: Int64, vector: [Float])]()
        for (id, vector) in changes {
            if let vector { inserts.append((id, vector)) } else { graph.remove(id: id) }
        }
        let order = InsertionOrder.order(count: inserts.count, dimension: graph.dimension) { index, body in
            inserts[index].vector.withUnsafeBufferPointer(body)
        }
        for index in order { graph.insert(id: inserts[index].id, vector: inserts[index].vector) }
    }

    /// Installs a graph built from `beginBuild`'s source after replaying what changed since, and
    /// releases the float32 rows. An empty partition keeps no graph.
    /// `snapshotRevision`: the revision of the snapshot written from `built` during the build, if any.
    public mutating func finishBuild(_ built: HNSWGraph, snapshotRevision written: UInt64? = nil) {
        guard changedDuringBuild != nil else { return }
        var fresh = built
        Self.apply(takeChanges(), to: &fresh)
        changedDuringBuild = nil
        guard fresh.count > 0 else { return }
        if let written { snapshotRevision = written }
        graph = fresh
        exact.removeAll()
    }

    /// The vector `id` has now (the exact row, or the graph's stored one), or nil if it is gone.
    private func currentVector(of id: Int64) -> [Float]? {
        if let graph { return graph.storedVector(of: id) }
        return exact.vector(of: id)
    }

    /// Adds or replaces the vector of `id`.
    public mutating func upsert(id: Int64, vector: [Float]) {
        precondition(vector.count == dimension, "vector dimension \(vector.count) != \(dimension)")
        if let node = graph?.node(of: id, matching: vector) {
            // Unchanged (a restore's rows confirm the snapshot's nodes this way).
            if confirmedNodes != nil, Int(node) < confirmedNodes!.count { confirmedNodes![Int(node)] = true }
            return
        }
        changedDuringBuild?.insert(id)
        revision &+= 1
        if graph != nil {
            graph!.insert(id: id, vector: vector)
            maintainGraph()
            return
        }
        let added = !exact.contains(id)
        exact.upsert(id: id, vector: vector)
        if added { maintainGraph() }
    }

    /// Removes `id` (exact mode: swap with the last row; graph: a tombstone); returns whether it was present.
    @discardableResult
    public mutating func remove(id: Int64) -> Bool {
        if graph != nil {
            guard graph!.remove(id: id) else { return false }
            changedDuringBuild?.insert(id)
            revision &+= 1
            maintainGraph()
            return true
        }
        guard exact.remove(id: id) else { return false }
        changedDuringBuild?.insert(id)
        revision &+= 1
        return true
    }

    /// The nearest vectors to `query` by dot product (cosine for unit vectors), best first: the
    /// exact `k` best (`ExactRows`), or from a graph up to `Neighbours.rerankDepth(k)` candidates
    /// with approximate scores, to re-rank.
    /// `depth` and `ef` override the candidates handed out and the graph's search effort (tuning).
    public func search(_ query: [Float], k: Int, depth: Int? = nil, ef: Int? = nil, entryEf: Int? = nil) -> Neighbours {
        guard count > 0, k > 0, query.count == dimension else { return Neighbours(candidates: [], exact: true) }
        if let graph {
            return Neighbours(candidates: Array(graph.candidates(query, k: k, ef: ef, entryEf: entryEf).prefix(max(k, depth ?? Neighbours.rerankDepth(k)))), exact: false)
        }
        return Neighbours(candidates: exact.search(query, k: k), exact: true)
    }
}
