import AfterimageCache
import AfterimageCore
import Foundation
import Hummingbird

/// `/admin/cache`: stats and purges. Works while caching is disabled too (on the stored entries).
struct AdminCacheController: Sendable {
    /// The running cache, which also keeps its in-memory index in step; nil when disabled.
    let cache: SemanticCache?
    let store: any CacheStore

    func addRoutes(to group: RouterGroup<AfterimageRequestContext>) {
        group.get("cache/stats") { request, _ in
            let stats = if let cache { try await cache.stats() } else { try await store.stats(now: Date()) }
            var json = stats.json.objectValue ?? [:]
            json["index"] = cache?.indexStatus ?? .null
            return JSONResponse.make(.object(json))
        }
        group.delete("cache/entries") { request, _ in
            let filter = try Self.filter(request)
            let deleted = if let cache { try await cache.purge(filter) } else { try await store.purge(filter).count }
            return JSONResponse.make(.object(["object": "cache.purge", "deleted": .integer(Int64(deleted))]))
        }
        group.delete("cache/entries/:id") { request, context in
            guard let id = context.parameters.get("id").flatMap(Int64.init) else { throw AfterimageError.notFound("No such cache entry.") }
            let deleted = if let cache { try await cache.delete(id: id) } else { try await store.delete(id: id) != nil }
            guard deleted else { throw AfterimageError.notFound("No such cache entry.") }
            return JSONResponse.make(.object(["object": "cache.entry", "id": .integer(id), "deleted": true]))
        }
    }

    /// `namespace`, `model` and `older_than` (e.g. `7d`) from the query; anything else is an error.
    static func filter(_ request: Request) throws -> CachePurgeFilter {
        let query = try AdminRequest.query(request, allowed: ["namespace", "model", "older_than"])
        return CachePurgeFilter(namespace: query["namespace"], model: query["model"], createdBefore: try AdminRequest.cutoff(query, "older_than"))
    }
}
