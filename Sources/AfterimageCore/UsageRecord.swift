import Foundation

/// One row of the usage ledger: everything finance and admins need about one image request —
/// success, error, cache hit or miss.
public struct UsageRecord: Sendable, Equatable {
    public var requestID: String
    public var createdAt: Date
    public var keyID: String?
    public var keyName: String?
    public var namespace: String?
    public var endpoint: ImageEndpoint
    public var provider: String?
    public var modelRequested: String?
    /// The model that served the request (the cached entry's model on a hit).
    public var modelUsed: String?
    public var status: Int
    public var errorCode: String?
    /// What the cache did; nil when the request failed before the lookup.
    public var cache: CacheOutcome?
    public var similarity: Double?
    public var images = 0
    public var size: String?
    public var quality: String?
    public var textInputTokens = 0
    public var cachedTextInputTokens = 0
    public var imageInputTokens = 0
    public var cachedImageInputTokens = 0
    public var imageOutputTokens = 0
    public var textOutputTokens = 0
    /// `upstream` or `estimated`; nil when nothing was consumed upstream.
    public var usageSource: String?
    /// What this request cost; nil when a model it used has no price (never zero for unknown).
    public var cost: Money?
    /// Whether `cost` is (partly) an estimate: a token kind or size without a price charged at the
    /// model's dearest known price, or an upstream's invalid usage charged at the worst case.
    public var costEstimated = false
    /// Upstream attempts, one outcome each (`ok`, `http_429`, `http_503`, `transport`, …).
    public var attempts: [String] = []
    /// On a hit: what the original miss cost (for the same images); else zero.
    public var saved = Money.zero
    public var embeddingTokens = 0
    public var latencyMs = 0
    public var upstreamLatencyMs: Int?
    /// The pricing file version the cost was computed with.
    public var priceVersion: String?
    public var cacheEntryID: Int64?
    /// Not a ledger column: records of images this request wrote and no cache entry took
    /// (`BlobStore.put(_:info:deferRecord:)`), committed in the same transaction as the row — the
    /// response that hands out their URLs waits for that commit anyway, so a bypass or a miss that
    /// stores nothing commits once. At most the request's image count; empty on PostgreSQL (its
    /// blob store never defers).
    public var pendingImageRecords: [StoredImage] = []

    public init(requestID: String, createdAt: Date, endpoint: ImageEndpoint, status: Int = 200) {
        self.requestID = requestID
        self.createdAt = createdAt
        self.endpoint = endpoint
        self.status = status
    }
}

/// The durable usage ledger.
public protocol UsageLedger: Sendable {
    /// Commits the row durably; returns only once it is on disk.
    func record(_ row: UsageRecord) async throws
    /// What a key (or, with `keyID` nil, a namespace) has spent since `since`.
    func spent(keyID: String?, namespace: String?, since: Date) async throws -> Money
}

/// The usage ledger with its reads for reports, exports and support, and the aggregated count
/// of unauthenticated requests: what a storage backend provides.
public protocol UsageLedgerStore: UsageLedger {
    /// One row by request id.
    func row(requestID: String) async throws -> UsageRecord?
    /// Counters per group over `[from, to)`, and their total.
    func report(from: Date, to: Date, groupBy: [UsageDimension]) async throws -> UsageReport
    /// Every row of `[from, to)`, oldest first, handed over a page at a time.
    func export(from: Date, to: Date, pageSize: Int, _ body: ([UsageRecord]) async throws -> Void) async throws
    /// Adds requests refused for a missing or invalid key, per minute and client address.
    func recordUnauthenticated(_ counts: [UnauthenticatedCount]) async throws
    /// Requests refused for a missing or invalid key since `since`.
    func unauthenticatedCount(since: Date) async throws -> Int
}

/// Requests without a valid key from one address in one minute (aggregated: no row each).
public struct UnauthenticatedCount: Sendable, Equatable {
    public var minute: Date
    public var source: String
    public var count: Int

    public init(minute: Date, source: String, count: Int) {
        self.minute = minute
        self.source = source
        self.count = count
    }
}
