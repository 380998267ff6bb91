import Foundation

/// A cached answer: the request it answered (namespace, partition, prompt, embedding) and the
/// stored response it can be served from.
public struct CacheEntry: Sendable, Equatable {
    public var id: Int64?
    /// Tenant isolation: an entry is only ever served within its namespace.
    public var namespace: String
    /// SHA-256 of the canonical exact-match parameters (endpoint, model, size, …, input images).
    public var partitionKey: String
    /// SHA-256 of the normalised prompt (the direct-hit key).
    public var directKey: String
    public var prompt: String
    public var normalizedPrompt: String
    /// The prompt's embedding (unit length), or nil when it could not be computed.
    public var embedding: [Float]?
    public var embeddingModel: String?
    public var endpoint: ImageEndpoint
    public var provider: String
    public var model: String
    /// The upstream answer's top-level fields except `data` (`created`, `usage`, `size`, …).
    public var response: [String: JSONValue]
    /// The answer's images in order, with each item's other fields (e.g. `revised_prompt`).
    public var images: [StoredImage]
    public var imageExtras: [[String: JSONValue]]
    public var createdAt: Date
    public var expiresAt: Date
    public var lastHitAt: Date?
    public var hitCount: Int
    /// What the miss that stored this entry cost (a hit's saved amount); nil if unpriced.
    public var cost: Money?

    public init(
        id: Int64? = nil, namespace: String, partitionKey: String, directKey: String, prompt: String, normalizedPrompt: String,
        embedding: [Float]?, embeddingModel: String?, endpoint: ImageEndpoint, provider: String, model: String,
        response: [String: JSONValue], images: [StoredImage], imageExtras: [[String: JSONValue]],
        createdAt: Date, expiresAt: Date, lastHitAt: Date? = nil, hitCount: Int = 0, cost: Money? = nil
    ) {
        self.id = id
        self.namespace = namespace
        self.partitionKey = partitionKey
        self.directKey = directKey
        self.prompt = prompt
        self.normalizedPrompt = normalizedPrompt
        self.embedding = embedding
        self.embeddingModel = embeddingModel
        self.endpoint = endpoint
        self.provider = provider
        self.model = model
        self.response = response
        self.images = images
        self.imageExtras = imageExtras
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastHitAt = lastHitAt
        self.hitCount = hitCount
        self.cost = cost
    }

    /// Bytes of the entry's images.
    public var byteCount: Int { images.reduce(0) { $0 + $1.byteCount } }
}

/// An index row: what the in-memory vector index needs of an entry.
public struct CacheVector: Sendable {
    public var id: Int64
    public var namespace: String
    public var partitionKey: String
    public var embedding: [Float]
    public init(id: Int64, namespace: String, partitionKey: String, embedding: [Float]) {
        self.id = id
        self.namespace = namespace
        self.partitionKey = partitionKey
        self.embedding = embedding
    }
}

/// Persistent cache entries.
public protocol CacheStore: Sendable {
    /// Stores an entry (and counts the miss that produced it), replacing one with the same
    /// namespace, partition and direct key; returns the new id and the entry it replaced, if any.
    /// With `ledgerRow`, that usage row (its `cacheEntryID` set to the new id) is committed in the
    /// same transaction: a miss makes its answer and its row durable with one commit.
    func insert(_ entry: CacheEntry, ledgerRow: UsageRecord?) async throws -> (id: Int64, replaced: CacheEntryRef?)
    /// Inserts many entries in one transaction (imports, benchmarks); misses are not counted.
    func insert(contentsOf entries: [CacheEntry]) async throws
    /// Entries (expired or not) with an id above `id`, in id order, at most `limit` (exports).
    func entries(after id: Int64, limit: Int) async throws -> [CacheEntry]
    /// The unexpired entry with this direct key.
    func findDirect(namespace: String, partitionKey: String, directKey: String, now: Date) async throws -> CacheEntry?
    /// The entry with this id if it exists and has not expired.
    func get(id: Int64, now: Date) async throws -> CacheEntry?
    /// Records a hit: the entry's counters and last-used time (LRU), its images' last use, the stats.
    func recordHit(id: Int64, kind: CacheHitKind, at: Date) async throws
    /// Records many hits in one transaction (the batched path; entries gone meanwhile are skipped).
    func recordHits(_ hits: [CacheHit]) async throws
    /// The id of the unexpired entry with this direct key (one indexed read, no row decoding).
    func findDirectID(namespace: String, partitionKey: String, directKey: String, now: Date) async throws -> Int64?
    /// Whether the entry exists and has not expired (one indexed read).
    func isLive(id: Int64, now: Date) async throws -> Bool
    /// Which of `ids` exist and have not expired (one read for all).
    func liveIDs(_ ids: [Int64], now: Date) async throws -> Set<Int64>
    /// The stored embeddings of those of `ids` that exist, have not expired and have one (one
    /// read: exact re-ranking of an approximate index's candidates, which also confirms them live).
    func liveVectors(_ ids: [Int64], now: Date) async throws -> [Int64: [Float]]
    /// Up to `limit` unexpired entries' vectors with ids above `id`, in id order: the index is
    /// loaded at startup page by page (never every vector at once).
    func vectors(now: Date, after id: Int64, limit: Int) async throws -> [CacheVector]
    /// Live entries and their bytes.
    func totals(now: Date) async throws -> CacheTotals
    /// Deletes least-recently-used entries (last hit, else creation) until at most `maxEntries`
    /// entries and `maxBytes` bytes remain; returns what it deleted and the totals left.
    func evict(maxEntries: Int, maxBytes: Int, now: Date) async throws -> (deleted: [CacheEntryRef], remaining: CacheTotals)
    /// Deletes every entry whose TTL has passed.
    func deleteExpired(now: Date) async throws -> [CacheEntryRef]
    /// Deletes the entries matching the filter.
    func purge(_ filter: CachePurgeFilter) async throws -> [CacheEntryRef]
    /// Deletes one entry; nil if there was none with that id.
    func delete(id: Int64) async throws -> CacheEntryRef?
    /// Entries, bytes and hit counters, overall and by namespace and model.
    func stats(now: Date) async throws -> CacheStats
}

/// One hit to record (`CacheStore.recordHits`).
public struct CacheHit: Sendable, Equatable {
    public var id: Int64
    public var kind: CacheHitKind
    public var at: Date

    public init(id: Int64, kind: CacheHitKind, at: Date) {
        self.id = id
        self.kind = kind
        self.at = at
    }
}

extension CacheStore {
    /// Stores an entry without a ledger row.
    public func insert(_ entry: CacheEntry) async throws -> (id: Int64, replaced: CacheEntryRef?) {
        try await insert(entry, ledgerRow: nil)
    }

    /// The id of the unexpired entry with this direct key (stores without a narrower query read the entry).
    public func findDirectID(namespace: String, partitionKey: String, directKey: String, now: Date) async throws -> Int64? {
        try await findDirect(namespace: namespace, partitionKey: partitionKey, directKey: directKey, now: now)?.id
    }

    /// Whether the entry exists and has not expired (stores without a narrower query read the entry).
    public func isLive(id: Int64, now: Date) async throws -> Bool {
        try await get(id: id, now: now) != nil
    }

    /// One `isLive` per id (stores without a batched query).
    public func liveIDs(_ ids: [Int64], now: Date) async throws -> Set<Int64> {
        var live = Set<Int64>()
        for id in ids where try await isLive(id: id, now: now) { live.insert(id) }
        return live
    }

    /// The most vectors one `vectors(now:after:limit:)` page holds (stores clamp `limit` to it).
    public static var maxVectorPage: Int { 100_000 }

    /// Hands every unexpired entry's vector to `body`, one page of at most `pageSize` (clamped to
    /// 1…`maxVectorPage`) at a time, in id order; returns how many.
    @discardableResult
    public func forEachVectorPage(now: Date, pageSize: Int = 10_000, _ body: ([CacheVector]) throws -> Void) async throws -> Int {
        let pageSize = max(1, min(pageSize, Self.maxVectorPage))
        var count = 0, last: Int64 = 0
        while true {
            let page = try await vectors(now: now, after: last, limit: pageSize)
            try body(page)
            count += page.count
            guard let next = page.last?.id, page.count >= pageSize else { return count }
            last = next
        }
    }

    /// Every unexpired entry's vector at once (tests and tools; startup loads page by page).
    public func vectors(now: Date) async throws -> [CacheVector] {
        var all = [CacheVector]()
        try await forEachVectorPage(now: now) { all += $0 }
        return all
    }

    /// One `get` per id (stores without a narrower query).
    public func liveVectors(_ ids: [Int64], now: Date) async throws -> [Int64: [Float]] {
        var vectors = [Int64: [Float]]()
        for id in ids { if let embedding = try await get(id: id, now: now)?.embedding { vectors[id] = embedding } }
        return vectors
    }

    /// One `recordHit` per hit (stores without a batched path).
    public func recordHits(_ hits: [CacheHit]) async throws {
        for hit in hits { try await recordHit(id: hit.id, kind: hit.kind, at: hit.at) }
    }
}
