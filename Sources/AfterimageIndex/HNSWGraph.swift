import AfterimageCore
import CKernels
import Foundation

/// A hierarchical navigable small-world graph (Malkov & Yashunin) over int8-quantised vectors with
/// a per-vector scale: an approximate nearest-neighbour index for large partitions. Inserts are
/// online; deletes are tombstones (searched through, never returned) and `compacted()` rebuilds
/// without them. Scores are approximate: callers re-rank the candidates exactly. Not thread-safe
/// on its own (`VectorIndex` serialises access).
public struct HNSWGraph: Sendable {
    /// Graph shape and effort.
    public struct Parameters: Sendable, Equatable {
        /// Links per node above layer 0 (layer 0 keeps twice as many).
        public var m: Int
        /// Candidates kept while inserting.
        public var efConstruction: Int
        /// Candidates kept while searching (at least `k`).
        public var efSearch: Int
        /// Candidates a search keeps on layer 1, every one an entry point of layer 0 (1: HNSW's
        /// usual greedy descent). At 1M clustered vectors the greedy walk ended in a wrong cluster
        /// for 6% of queries (recall@1 0.94); 32 entry points: 0.995 (`bench index`).
        public var entryEf: Int

        public init(m: Int = 16, efConstruction: Int = 100, efSearch: Int = 100, entryEf: Int = 32) {
            self.m = max(4, min(m, 64))
            self.efConstruction = max(8, min(efConstruction, 1_000))
            self.efSearch = max(8, min(efSearch, 1_000))
            self.entryEf = max(1, min(entryEf, 1_000))
        }
    }

    public let dimension: Int
    public let parameters: Parameters
    var codes: [Int8] = []
    var scales: [Float] = []
    var ids: [Int64] = []
    var deleted: [Bool] = []
    var levels: [UInt8] = []
    /// Layer 0 links, `maxLinks0` slots per node, -1 where empty.
    var layer0: [Int32] = []
    /// Links above layer 0: node → one list per level 1...level.
    var upper: [Int32: [[Int32]]] = [:]
    var positions: [Int64: Int32] = [:]
    var entry: Int32 = -1
    var topLevel = 0
    var random = SplitMix64(seed: 0x5EED_1234_ABCD_0001)
    public internal(set) var tombstones = 0
    /// Visit stamps reused by inserts (a search bumps the generation instead of clearing).
    var insertVisits = StampVisits()

    var maxLinks0: Int { parameters.m * 2 }

    public init(dimension: Int, parameters: Parameters = Parameters()) {
        self.dimension = dimension
        self.parameters = parameters
    }

    /// Live (not deleted) vectors.
    public var count: Int { positions.count }

    /// Whether `id` is live in the graph.
    public func contains(_ id: Int64) -> Bool { positions[id] != nil }

    /// The live vector of `id` as stored (its int8 codes times its scale), or nil. Quantising it
    /// again gives the same codes, so a rebuild from these loses nothing more.
    public func storedVector(of id: Int64) -> [Float]? {
        guard let node = positions[id].map(Int.init) else { return nil }
        let scale = scales[node]
        return (0..<dimension).map { Float(codes[node * dimension + $0]) * scale }
    }

    /// Bytes held by the graph's arrays (codes, scales, ids, flags, links), without allocator overhead.
    public var approximateBytes: Int {
        let upperLinks = upper.values.reduce(0) { total, lists in total + lists.reduce(0) { $0 + $1.count * 4 + 32 } + 48 }
        return codes.count + scales.count * 4 + ids.count * 8 + deleted.count + levels.count + layer0.count * 4 + upperLinks + positions.count * 24
    }

    /// Adds `id` (a new vector for an existing id replaces it: the old node becomes a tombstone).
    public mutating func insert(id: Int64, vector: [Float]) {
        precondition(vector.count == dimension, "vector dimension \(vector.count) != \(dimension)")
        if positions[id] != nil { remove(id: id) }
        let (code, scale) = Self.quantize(vector)
        let node = Int32(ids.count)
        HugePages.reserve(&codes, capacity: codes.count + dimension)
        HugePages.reserve(&layer0, capacity: layer0.count + maxLinks0)
        codes.append(contentsOf: code)
        scales.append(scale)
        ids.append(id)
        deleted.append(false)
        layer0.append(contentsOf: repeatElement(-1, count: maxLinks0))
        positions[id] = node
        let level = drawLevel()
        levels.append(UInt8(level))
        if level > 0 { upper[node] = Array(repeating: [], count: level) }
        guard entry >= 0 else {
            entry = node
            topLevel = level
            return
        }
        var nearest = entry
        if topLevel > level {
            for layer in stride(from: topLevel, to: level, by: -1) { nearest = greedy(code, scale, from: nearest, layer: layer) }
        }
        for layer in stride(from: min(level, topLevel), through: 0, by: -1) {
            var visits = StampVisits()
            swap(&visits, &insertVisits)
            visits.begin(nodes: ids.count)
            let found = searchLayer(code, scale, entries: [nearest], ef: parameters.efConstruction, layer: layer, visits: &visits)
            swap(&visits, &insertVisits)
            let chosen = selectNeighbours(found, limit: layer == 0 ? maxLinks0 : parameters.m)
            setLinks(node, layer: layer, to: chosen.map(\.node))
            for neighbour in chosen { link(neighbour.node, to: node, score: neighbour.score, layer: layer) }
            if let best = found.first { nearest = best.node }
        }
        if level > topLevel {
            topLevel = level
            entry = node
        }
    }

    /// The node of `id` when its stored codes and scale are what `vector` quantises to (an
    /// upsert of the same vector then changes nothing), else nil.
    public func node(of id: Int64, matching vector: [Float]) -> Int32? {
        guard let node = positions[id], vector.count == dimension else { return nil }
        let (code, scale) = Self.quantize(vector)
        guard scale == scales[Int(node)] else { return nil }
        let start = Int(node) * dimension
        return codes.withUnsafeBufferPointer { all in
            code.withUnsafeBufferPointer { mine in memcmp(all.baseAddress! + start, mine.baseAddress!, dimension) == 0 }
        } ? node : nil
    }

    /// Nodes ever inserted, tombstones included (node numbers run below this).
    public var nodeCount: Int { ids.count }

    /// Marks node number `node` deleted; returns whether it was live.
    @discardableResult
    public mutating func remove(node: Int) -> Bool {
        guard node >= 0, node < ids.count, !deleted[node] else { return false }
        return remove(id: ids[node])
    }

    /// Marks `id` deleted; returns whether it was live.
    @discardableResult
    public mutating func remove(id: Int64) -> Bool {
        guard let node = positions.removeValue(forKey: id) else { return false }
        deleted[Int(node)] = true
        tombstones += 1
        return true
    }

    /// Whether tombstones are a large share of the nodes (time for `compacted()`).
    public var needsCompaction: Bool { tombstones > 1_000 && tombstones * 4 > ids.count }

    /// A graph of the live vectors only (rebuilt from their quantised codes, in `InsertionOrder`).
    public func compacted() -> HNSWGraph {
        var fresh = HNSWGraph(dimension: dimension, parameters: parameters)
        let live = ids.indices.filter { !deleted[$0] }
        func vector(_ node: Int) -> [Float] {
            let scale = scales[node]
            return (0..<dimension).map { Float(codes[node * dimension + $0]) * scale }
        }
        let order = InsertionOrder.order(count: live.count, dimension: dimension) { index, body in vector(live[index]).withUnsafeBufferPointer(body) }
        for index in order { fresh.insert(id: ids[live[index]], vector: vector(live[index])) }
        return fresh
    }

    /// Up to `max(k, efSearch)` live candidates nearest to `query`, best (approximate score) first.
    /// `ef` overrides `parameters.efSearch` (tuning; 8–1,000).
    /// `ef` and `entryEf` override the parameters' (tuning).
    public func candidates(_ query: [Float], k: Int, ef: Int? = nil, entryEf: Int? = nil) -> [(id: Int64, score: Float)] {
        guard entry >= 0, k > 0, query.count == dimension else { return [] }
        let (code, scale) = Self.quantize(query)
        var entries = [entry]
        if topLevel > 0 {
            var nearest = entry
            for layer in stride(from: topLevel, to: 1, by: -1) { nearest = greedy(code, scale, from: nearest, layer: layer) }
            let entryEf = entryEf.map { min(max($0, 1), 1_000) } ?? parameters.entryEf
            if entryEf > 1 {
                var upperVisits = BitVisits(nodes: ids.count)
                entries = searchLayer(code, scale, entries: [nearest], ef: entryEf, layer: 1, visits: &upperVisits).map(\.node)
            } else {
                entries = [greedy(code, scale, from: nearest, layer: 1)]
            }
        }
        var visits = BitVisits(nodes: ids.count)
        return searchLayer(code, scale, entries: entries, ef: max(k, ef.map { min(max($0, 8), 1_000) } ?? parameters.efSearch), layer: 0, visits: &visits)
            .filter { !deleted[Int($0.node)] }.map { (ids[Int($0.node)], $0.score) }
    }

    // MARK: - Internals

    /// int8 codes and the scale that maps them back (`value ≈ code × scale`).
    /// Non-finite components count as 0 (a NaN must not trap the conversion).
    static func quantize(_ vector: [Float]) -> ([Int8], Float) {
        let largest = vector.reduce(Float(0)) { $1.isFinite ? max($0, abs($1)) : $0 }
        guard largest > 0, largest.isFinite else { return (Array(repeating: 0, count: vector.count), 0) }
        let scale = largest / 127
        return (vector.map { $0.isFinite ? Int8(clamping: Int(($0 / scale).rounded())) : 0 }, scale)
    }

    /// Approximate dot product of a query's codes with a node's (`ak_dot_i8`: AVX2 where present).
    func score(_ code: [Int8], _ scale: Float, _ node: Int32) -> Float {
        let total = codes.withUnsafeBufferPointer { all in
            code.withUnsafeBufferPointer { query in
                ak_dot_i8(query.baseAddress!, all.baseAddress! + Int(node) * dimension, dimension, Int32(AK_PATH_AUTO))
            }
        }
        return Float(total) * scale * scales[Int(node)]
    }

    /// Approximate dot product of two nodes, read in place (no copies of their codes).
    func score(_ a: Int32, _ b: Int32) -> Float {
        let total = codes.withUnsafeBufferPointer { all in
            ak_dot_i8(all.baseAddress! + Int(a) * dimension, all.baseAddress! + Int(b) * dimension, dimension, Int32(AK_PATH_AUTO))
        }
        return Float(total) * scales[Int(a)] * scales[Int(b)]
    }

    /// Calls `body` with each link of `node` on `layer`, without building an array.
    @inline(__always)
    func forEachNeighbour(_ node: Int32, layer: Int, _ body: (Int32) -> Void) {
        if layer == 0 {
            let start = Int(node) * maxLinks0
            layer0.withUnsafeBufferPointer { links in
                for slot in start..<start + maxLinks0 {
                    let neighbour = links[slot]
                    if neighbour < 0 { break }
                    body(neighbour)
                }
            }
        } else if let lists = upper[node] {
            for neighbour in lists[layer - 1] { body(neighbour) }
        }
    }

    func neighbours(_ node: Int32, layer: Int) -> [Int32] {
        if layer == 0 {
            let start = Int(node) * maxLinks0
            return Array(layer0[start..<start + maxLinks0].prefix { $0 >= 0 })
        }
        return upper[node]?[layer - 1] ?? []
    }

    mutating func setLinks(_ node: Int32, layer: Int, to links: [Int32]) {
        if layer == 0 {
            let start = Int(node) * maxLinks0
            for slot in 0..<maxLinks0 { layer0[start + slot] = slot < links.count ? links[slot] : -1 }
        } else {
            upper[node]?[layer - 1] = links
        }
    }

    /// Adds `target` (at `targetScore` from `node`) to `node`'s links on `layer`. A full list is
    /// updated with the neighbour heuristic applied incrementally — the list already satisfies it,
    /// so only the pairs with `target` are scored: `target` is refused when a closer link is
    /// closer to it than `node` is; otherwise links that `target` now shadows are dropped, and
    /// the farthest goes if the list is still too long. That is ≤ 2 × limit scores instead of
    /// re-selecting the whole list (limit²/2), and the graph comes out alike (see `bench index`).
    mutating func link(_ node: Int32, to target: Int32, score targetScore: Float, layer: Int) {
        var links = neighbours(node, layer: layer)
        guard !links.contains(target) else { return }
        let limit = layer == 0 ? maxLinks0 : parameters.m
        guard links.count >= limit else {
            links.append(target)
            setLinks(node, layer: layer, to: links)
            return
        }
        let scores = links.map { score(node, $0) }
        for (index, link) in links.enumerated() where scores[index] > targetScore {
            if score(target, link) > targetScore { return }
        }
        var kept = [Int32](), keptScores = [Float]()
        kept.reserveCapacity(limit + 1)
        keptScores.reserveCapacity(limit + 1)
        for (index, link) in links.enumerated() {
            if scores[index] < targetScore, score(target, link) > scores[index] { continue }
            kept.append(link)
            keptScores.append(scores[index])
        }
        kept.append(target)
        keptScores.append(targetScore)
        if kept.count > limit, let farthest = keptScores.indices.min(by: { keptScores[$0] < keptScores[$1] }) {
            kept.remove(at: farthest)
            keptScores.remove(at: farthest)
        }
        setLinks(node, layer: layer, to: kept)
    }

    /// HNSW's neighbour heuristic: a candidate (best first) is kept when it is closer to the base
    /// than to every neighbour kept so far, so links reach across clusters instead of all pointing
    /// into one; free slots are then filled with the closest of the rest.
    func selectNeighbours(_ candidates: [(node: Int32, score: Float)], limit: Int) -> [(node: Int32, score: Float)] {
        var kept = [(node: Int32, score: Float)]()
        kept.reserveCapacity(limit)
        for candidate in candidates where kept.count < limit {
            if kept.allSatisfy({ score(candidate.node, $0.node) < candidate.score }) { kept.append(candidate) }
        }
        for candidate in candidates where kept.count < limit && !kept.contains(where: { $0.node == candidate.node }) { kept.append(candidate) }
        return kept
    }

    /// A level with P(level ≥ l) = m^-l (seeded: builds are reproducible).
    mutating func drawLevel() -> Int {
        let uniform = max(Double(random.next() >> 11) / Double(1 << 53), 1e-12)
        return min(Int(Self.maxLevel), Int(-log(uniform) / log(Double(parameters.m))))
    }
}
