/// Nodes a search has seen.
protocol VisitSet {
    /// Marks `node`; false if it was already marked.
    mutating func insert(_ node: Int32) -> Bool
    /// The storage as `ak_hnsw_search0` takes it: a bitset, or stamps and the current generation.
    mutating func withStorage<R>(_ body: (UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<UInt32>?, UInt32) -> R) -> R
}

/// A bitset for one search (a concurrent reader's own: 125 KB at 1M nodes).
struct BitVisits: VisitSet {
    var words: [UInt64]

    init(nodes: Int) {
        words = [UInt64](repeating: 0, count: (nodes + 63) / 64)
    }

    mutating func withStorage<R>(_ body: (UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<UInt32>?, UInt32) -> R) -> R {
        words.withUnsafeMutableBufferPointer { body($0.baseAddress, nil, 0) }
    }

    @inline(__always)
    mutating func insert(_ node: Int32) -> Bool {
        let index = Int(node) >> 6, bit = UInt64(1) << UInt64(Int(node) & 63)
        if words[index] & bit != 0 { return false }
        words[index] |= bit
        return true
    }
}

/// Generation stamps reused across the inserts of one graph: starting a search costs nothing
/// (clearing happens once per 2^32 searches).
struct StampVisits: VisitSet, Sendable {
    var stamps: [UInt32] = []
    var generation: UInt32 = 0

    mutating func begin(nodes: Int) {
        if stamps.count < nodes {
            HugePages.reserve(&stamps, capacity: nodes)
            stamps.append(contentsOf: repeatElement(0, count: nodes - stamps.count))
        }
        if generation == .max {
            for index in stamps.indices { stamps[index] = 0 }
            generation = 0
        }
        generation += 1
    }

    mutating func withStorage<R>(_ body: (UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<UInt32>?, UInt32) -> R) -> R {
        let generation = self.generation
        return stamps.withUnsafeMutableBufferPointer { body(nil, $0.baseAddress, generation) }
    }

    @inline(__always)
    mutating func insert(_ node: Int32) -> Bool {
        if stamps[Int(node)] == generation { return false }
        stamps[Int(node)] = generation
        return true
    }
}
