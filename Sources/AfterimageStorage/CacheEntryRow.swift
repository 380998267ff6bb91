import AfterimageCore
import Foundation
import GRDB

/// Row of `cache_entries`.
struct CacheEntryRow: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "cache_entries"
    var id: Int64?
    var namespace: String
    var partition_key: String
    var direct_key: String
    var prompt: String
    var normalized_prompt: String
    var embedding: Data?
    var embedding_model: String?
    var endpoint: String
    var provider: String
    var model: String
    var response: String
    var images: String
    var image_extras: String
    var byte_count: Int
    var created_at: Date
    var expires_at: Date
    var last_hit_at: Date?
    var hit_count: Int
    var cost_nanos: Int64?

    init(_ entry: CacheEntry) throws {
        let columns = try CacheEntryColumns(entry)
        id = entry.id
        namespace = entry.namespace
        partition_key = entry.partitionKey
        direct_key = entry.directKey
        prompt = entry.prompt
        normalized_prompt = entry.normalizedPrompt
        embedding = entry.embedding.map(EmbeddingBlob.encode)
        embedding_model = entry.embeddingModel
        endpoint = entry.endpoint.rawValue
        provider = entry.provider
        model = entry.model
        response = columns.response
        images = columns.images
        image_extras = columns.imageExtras
        byte_count = entry.byteCount
        created_at = entry.createdAt
        expires_at = entry.expiresAt
        last_hit_at = entry.lastHitAt
        hit_count = entry.hitCount
        cost_nanos = entry.cost?.nanos
    }

    func entry() throws -> CacheEntry {
        let parts = try CacheEntryColumns(response: response, images: images, imageExtras: image_extras).decoded()
        return CacheEntry(
            id: id, namespace: namespace, partitionKey: partition_key, directKey: direct_key, prompt: prompt,
            normalizedPrompt: normalized_prompt, embedding: embedding.map(EmbeddingBlob.decode), embeddingModel: embedding_model,
            endpoint: ImageEndpoint(rawValue: endpoint) ?? .generations, provider: provider, model: model,
            response: parts.response, images: parts.images, imageExtras: parts.imageExtras,
            createdAt: created_at, expiresAt: expires_at, lastHitAt: last_hit_at, hitCount: hit_count,
            cost: cost_nanos.map(Money.init(nanos:))
        )
    }

    mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}
