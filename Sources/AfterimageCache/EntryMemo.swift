import AfterimageCore
import Synchronization

/// Decoded cache entries by id, so a repeated hit skips decoding the row's JSON columns. An
/// entry's content never changes under its id (a replacement gets a new id; only counters move,
/// and they are not served), and every use first confirms the id is live with one indexed read —
/// so a memo can never serve an entry that was deleted or expired. Bounded by entry count and by
/// an estimate of their bytes; oversized entries are not kept.
public final class EntryMemo: Sendable {
    public let capacity: Int
    public let maxBytes: Int
    /// Larger entries are decoded each time instead.
    public let maxEntryBytes: Int
    private let state = Mutex<(entries: [Int64: (entry: CacheEntry, bytes: Int)], bytes: Int)>(([:], 0))

    public init(capacity: Int = 2_048, maxBytes: Int = 32 << 20, maxEntryBytes: Int = 256 << 10) {
        self.capacity = max(1, capacity)
        self.maxBytes = max(1, maxBytes)
        self.maxEntryBytes = max(1, maxEntryBytes)
    }

    public func get(_ id: Int64) -> CacheEntry? {
        state.withLock { $0.entries[id]?.entry }
    }

    public func put(_ entry: CacheEntry) {
        guard let id = entry.id else { return }
        let bytes = Self.estimate(entry, limit: maxEntryBytes)
        guard bytes <= maxEntryBytes else { return }
        state.withLock { state in
            if state.entries[id] != nil { return }
            if state.entries.count >= capacity || state.bytes + bytes > maxBytes {
                // Cheap and bounded: start over rather than track recency.
                state.entries.removeAll(keepingCapacity: true)
                state.bytes = 0
            }
            state.entries[id] = (entry, bytes)
            state.bytes += bytes
        }
    }

    public func remove(_ ids: [Int64]) {
        state.withLock { state in
            for id in ids { if let gone = state.entries.removeValue(forKey: id) { state.bytes -= gone.bytes } }
        }
    }

    public var count: Int { state.withLock { $0.entries.count } }

    /// Approximate memory of an entry; stops counting once past `limit`.
    static func estimate(_ entry: CacheEntry, limit: Int) -> Int {
        var total = 512 + entry.prompt.utf8.count + entry.normalizedPrompt.utf8.count + (entry.embedding?.count ?? 0) * 4
        total += entry.images.count * 256
        for extra in entry.imageExtras { total += size(.object(extra), budget: limit - total) }
        total += size(.object(entry.response), budget: limit - total)
        return total
    }

    private static func size(_ value: JSONValue, budget: Int) -> Int {
        guard budget > 0 else { return 1 }
        switch value {
        case .null, .bool, .number, .integer: return 16
        case .string(let text): return 16 + text.utf8.count
        case .array(let items):
            var total = 16
            for item in items where total <= budget { total += size(item, budget: budget - total) }
            return total
        case .object(let fields):
            var total = 16
            for (key, item) in fields where total <= budget { total += key.utf8.count + size(item, budget: budget - total - key.utf8.count) }
            return total
        }
    }
}
