import CKernels

/// The graph's searches: the greedy walk of the upper layers, best-first search of a layer
/// (layer 0 in C, `ak_hnsw_search0`), and the sorted insertion they share.
extension HNSWGraph {
    /// Greedy walk to the best neighbour on one upper layer.
    func greedy(_ code: [Int8], _ scale: Float, from start: Int32, layer: Int) -> Int32 {
        var current = start, best = score(code, scale, start)
        var moved = true
        while moved {
            moved = false
            for neighbour in neighbours(current, layer: layer) {
                let candidate = score(code, scale, neighbour)
                if candidate > best {
                    best = candidate
                    current = neighbour
                    moved = true
                }
            }
        }
        return current
    }

    /// Best-first search of one layer keeping `ef` results, best first. `results` is kept best
    /// first and `frontier` worst first (the next node to expand pops off its end); both insert
    /// by binary search. A node's unvisited neighbours are scored in one `ak_dot_i8_gather` call,
    /// which prefetches their scattered rows.
    func searchLayer<Visits: VisitSet>(
        _ code: [Int8], _ scale: Float, entries: [Int32], ef: Int, layer: Int, visits: inout Visits
    ) -> [(node: Int32, score: Float)] {
        if layer == 0 { return searchLayer0(code, scale, entries: entries, ef: ef, visits: &visits) }
        for node in entries { _ = visits.insert(node) }
        var results = entries.map { (node: $0, score: score(code, scale, $0)) }.sorted { $0.score > $1.score }
        var frontier = Array(results.reversed())
        results.reserveCapacity(ef + 1)
        frontier.reserveCapacity(ef * 4)
        let width = max(maxLinks0, parameters.m)
        var batch = [Int32](repeating: 0, count: width), sums = [Int32](repeating: 0, count: width)
        codes.withUnsafeBufferPointer { all in
            code.withUnsafeBufferPointer { query in
                batch.withUnsafeMutableBufferPointer { batch in
                    sums.withUnsafeMutableBufferPointer { sums in
                        while let current = frontier.popLast() {
                            if results.count >= ef, let worst = results.last, current.score < worst.score { break }
                            var fresh = 0
                            forEachNeighbour(current.node, layer: layer) { neighbour in
                                guard fresh < width, visits.insert(neighbour) else { return }
                                batch[fresh] = neighbour
                                fresh += 1
                            }
                            guard fresh > 0 else { continue }
                            ak_dot_i8_gather(query.baseAddress!, all.baseAddress!, batch.baseAddress!, fresh, dimension, Int32(AK_PATH_AUTO), sums.baseAddress!)
                            for slot in 0..<fresh {
                                let neighbour = batch[slot]
                                let candidate = Float(sums[slot]) * scale * scales[Int(neighbour)]
                                guard results.count < ef || candidate > results[results.count - 1].score else { continue }
                                Self.insert((node: neighbour, score: candidate), into: &results, descending: true)
                                if results.count > ef { results.removeLast() }
                                Self.insert((node: neighbour, score: candidate), into: &frontier, descending: false)
                            }
                        }
                    }
                }
            }
        }
        return results
    }

    /// Layer 0 (where nearly all the work is) through `ak_hnsw_search0`: the same best-first
    /// search in C over the flat link table, with heaps and prefetched rows.
    func searchLayer0<Visits: VisitSet>(
        _ code: [Int8], _ scale: Float, entries: [Int32], ef: Int, visits: inout Visits
    ) -> [(node: Int32, score: Float)] {
        var nodes = [Int32](repeating: 0, count: ef), scores = [Float](repeating: 0, count: ef)
        let found = visits.withStorage { bits, stamps, generation in
            codes.withUnsafeBufferPointer { all in
                scales.withUnsafeBufferPointer { scales in
                    layer0.withUnsafeBufferPointer { links in
                        ak_hnsw_search0(
                            code, scale, all.baseAddress!, scales.baseAddress!, dimension, links.baseAddress!, maxLinks0,
                            entries, entries.count, ef, bits, stamps, generation, Int32(AK_PATH_AUTO), &nodes, &scores
                        )
                    }
                }
            }
        }
        return (0..<found).map { (node: nodes[$0], score: scores[$0]) }
    }

    /// Inserts `entry` into `list` kept sorted by score (descending or ascending), after equals.
    @inline(__always)
    static func insert(_ entry: (node: Int32, score: Float), into list: inout [(node: Int32, score: Float)], descending: Bool) {
        var low = 0, high = list.count
        while low < high {
            let middle = (low + high) / 2
            let before = descending ? list[middle].score < entry.score : list[middle].score > entry.score
            if before { high = middle } else { low = middle + 1 }
        }
        list.insert(entry, at: low)
    }
}
