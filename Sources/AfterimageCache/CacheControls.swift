/// A request's cache controls (the server reads them from headers: `Cache-Control: no-cache`
/// skips the lookup but still stores, `no-store` does not store, a threshold that may only raise
/// the configured one, a TTL no longer than the namespace's, and the lookup type).
public struct CacheControls: Sendable, Equatable {
    /// Which lookups to run (both when nil).
    public enum LookupType: String, Sendable { case direct, semantic }

    public var skipLookup = false
    public var noStore = false
    /// A threshold the request asks for; it can only raise the one in force.
    public var threshold: Float?
    public var ttlSeconds: Int?
    public var type: LookupType?

    public init(skipLookup: Bool = false, noStore: Bool = false, threshold: Float? = nil, ttlSeconds: Int? = nil, type: LookupType? = nil) {
        self.skipLookup = skipLookup
        self.noStore = noStore
        self.threshold = threshold
        self.ttlSeconds = ttlSeconds
        self.type = type
    }
}
