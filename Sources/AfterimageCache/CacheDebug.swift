import AfterimageCore

/// What a request learned from the cache, rendered as `extra_fields.cache_debug` and the
/// `x-afterimage-cache` headers.
public struct CacheDebug: Sendable {
    public var outcome = CacheOutcome.bypass
    public var entryID: Int64?
    public var requestedProvider: String
    public var requestedModel: String
    public var embeddingProvider: String?
    public var embeddingModel: String?
    public var inputTokens = 0
    public var threshold: Float?
    public var similarity: Float?
    public var refusedBy: GuardRefusal?

    public init(requestedProvider: String, requestedModel: String) {
        self.requestedProvider = requestedProvider
        self.requestedModel = requestedModel
    }

    public var isHit: Bool { outcome.isHit }

    /// `hit-direct`, `hit-semantic`, `miss` or `bypass`.
    public var headerValue: String { isHit ? "hit-\(outcome.rawValue)" : outcome.rawValue }

    /// The similarity header's value: known and not a direct hit.
    public var headerSimilarity: Float? { outcome == .direct ? nil : similarity }

    /// The lookup metric's result label: the outcome, or `guard_refused` for a miss the guard refused.
    public var metricResult: String {
        outcome == .miss && refusedBy?.isGuardRule == true ? "guard_refused" : outcome.rawValue
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "cache_hit": .bool(isHit),
            "requested_provider": .string(requestedProvider),
            "requested_model": .string(requestedModel),
        ]
        if outcome == .bypass { object["bypass"] = .bool(true) }
        if let entryID { object["cache_id"] = .string(String(entryID)) }
        if isHit { object["hit_type"] = .string(outcome.rawValue) }
        if let embeddingProvider { object["provider_used"] = .string(embeddingProvider) }
        if let embeddingModel { object["model_used"] = .string(embeddingModel) }
        if embeddingProvider != nil || outcome != .bypass { object["input_tokens"] = .integer(Int64(inputTokens)) }
        if let threshold { object["threshold"] = .number(Self.rounded(threshold)) }
        if outcome != .bypass { object["similarity"] = outcome == .direct ? .null : similarity.map { .number(Self.rounded($0)) } ?? .null }
        if let refusedBy { object["guard_refused"] = .string(refusedBy.description) }
        return .object(object)
    }

    public static func rounded(_ value: Float) -> Double { (Double(value) * 1_000_000).rounded() / 1_000_000 }
}

extension JSONValue {
    /// The same shape with every number set to zero (a cache hit's `usage`).
    public var zeroed: JSONValue {
        switch self {
        case .integer, .number: return .integer(0)
        case .object(let members): return .object(members.mapValues(\.zeroed))
        case .array(let items): return .array(items.map(\.zeroed))
        default: return self
        }
    }
}
