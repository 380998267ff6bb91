import Foundation

/// How a cached entry was found.
public enum CacheHitKind: String, Sendable {
    case direct, semantic
}

/// Where a cache entry lives: enough to drop it from the in-memory index.
public struct CacheEntryRef: Sendable, Hashable {
    public var id: Int64
    public var namespace: String
    public var partitionKey: String
    public init(id: Int64, namespace: String, partitionKey: String) {
        self.id = id
        self.namespace = namespace
        self.partitionKey = partitionKey
    }
}

/// Which entries `cache purge` deletes; nil fields match everything.
public struct CachePurgeFilter: Sendable, Equatable {
    public var namespace: String?
    public var model: String?
    /// Only entries created before this instant.
    public var createdBefore: Date?
    public init(namespace: String? = nil, model: String? = nil, createdBefore: Date? = nil) {
        self.namespace = namespace
        self.model = model
        self.createdBefore = createdBefore
    }
}

/// Entry count and bytes of the live (unexpired) cache, for size limits.
public struct CacheTotals: Sendable, Equatable {
    public var entries: Int
    public var bytes: Int
    public init(entries: Int, bytes: Int) {
        self.entries = entries
        self.bytes = bytes
    }
}

/// What `cache stats` reports: live entries and bytes, hits by type and stored misses, overall and
/// per namespace and per model. Hit counters survive purges and evictions.
public struct CacheStats: Sendable, Equatable {
    /// One row of the report.
    public struct Group: Sendable, Equatable {
        public var name: String
        public var entries = 0
        public var bytes = 0
        public var directHits = 0
        public var semanticHits = 0
        /// Lookups that missed and whose upstream answer was stored.
        public var misses = 0
        public init(name: String) { self.name = name }

        public var hits: Int { directHits + semanticHits }
        /// hits / (hits + misses), or nil before the first lookup.
        public var hitRate: Double? { hits + misses == 0 ? nil : Double(hits) / Double(hits + misses) }

        public var json: JSONValue {
            .object([
                "entries": .integer(Int64(entries)), "bytes": .integer(Int64(bytes)),
                "direct_hits": .integer(Int64(directHits)), "semantic_hits": .integer(Int64(semanticHits)),
                "hits": .integer(Int64(hits)), "misses": .integer(Int64(misses)),
                "hit_rate": hitRate.map { .number(($0 * 10_000).rounded() / 10_000) } ?? .null,
            ])
        }
    }

    public var total = Group(name: "total")
    public var byNamespace: [Group] = []
    public var byModel: [Group] = []
    /// Entries past their TTL that the sweeper has not deleted yet (never served).
    public var expiredEntries = 0
    public var oldestEntry: Date?
    public init() {}

    public var json: JSONValue {
        func named(_ groups: [Group], as key: String) -> JSONValue {
            .array(groups.map { group in
                var object = group.json.objectValue ?? [:]
                object[key] = .string(group.name)
                return .object(object)
            })
        }
        var object = total.json.objectValue ?? [:]
        object["object"] = .string("cache.stats")
        object["expired_entries"] = .integer(Int64(expiredEntries))
        object["oldest_entry_at"] = oldestEntry.map { .string(DateText.format($0)) } ?? .null
        object["by_namespace"] = named(byNamespace, as: "namespace")
        object["by_model"] = named(byModel, as: "model")
        return .object(object)
    }
}
