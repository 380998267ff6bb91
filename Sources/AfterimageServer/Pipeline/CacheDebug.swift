import AfterimageCache
import AfterimageCore

/// What a request learned from the cache, rendered as `extra_fields.cache_debug` and the
/// `x-afterimage-cache` headers.
struct CacheDebug: Sendable {
    /// `direct`, `semantic`, `miss` or `bypass`.
    var outcome = "bypass"
    var entryID: Int64?
    var requestedProvider: String
    var requestedModel: String
    var embeddingProvider: String?
    var embeddingModel: String?
    var inputTokens = 0
    var threshold: Float?
    var similarity: Float?
    var refusedBy: String?

    var isHit: Bool { outcome == "direct" || outcome == "semantic" }

    var headerValue: String { isHit ? "hit-\(outcome)" : outcome }

    var json: JSONValue {
        var object: [String: JSONValue] = [
            "cache_hit": .bool(isHit),
            "requested_provider": .string(requestedProvider),
            "requested_model": .string(requestedModel),
        ]
        if outcome == "bypass" { object["bypass"] = .bool(true) }
        if let entryID { object["cache_id"] = .string(String(entryID)) }
        if isHit { object["hit_type"] = .string(outcome) }
        if let embeddingProvider { object["provider_used"] = .string(embeddingProvider) }
        if let embeddingModel { object["model_used"] = .string(embeddingModel) }
        if embeddingProvider != nil || outcome != "bypass" { object["input_tokens"] = .integer(Int64(inputTokens)) }
        if let threshold { object["threshold"] = .number(Self.rounded(threshold)) }
        if outcome != "bypass" { object["similarity"] = outcome == "direct" ? .null : similarity.map { .number(Self.rounded($0)) } ?? .null }
        if let refusedBy { object["guard_refused"] = .string(refusedBy) }
        return .object(object)
    }

    static func rounded(_ value: Float) -> Double { (Double(value) * 1_000_000).rounded() / 1_000_000 }
}

extension JSONValue {
    /// The same shape with every number set to zero (a cache hit's `usage`).
    var zeroed: JSONValue {
        switch self {
        case .integer, .number: return .integer(0)
        case .object(let members): return .object(members.mapValues(\.zeroed))
        case .array(let items): return .array(items.map(\.zeroed))
        default: return self
        }
    }
}
