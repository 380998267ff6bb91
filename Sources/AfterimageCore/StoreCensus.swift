/// What a backend holds, for checking a copy between backends (`afterimage storage migrate`).
public struct StoreCensus: Sendable, Equatable, CustomStringConvertible {
    public var keys = 0
    public var namespaceLimits = 0
    public var ledgerRows = 0
    /// The sum of `cost_nanos` over the ledger, to the nano-dollar.
    public var ledgerCostNanos: Int64 = 0
    public var cacheEntries = 0
    public var images = 0
    public var labelledLookups = 0
    public var cacheSettings = 0

    public init() {}

    public var description: String {
        "keys \(keys), namespace limits \(namespaceLimits), ledger rows \(ledgerRows) ($\(Money(nanos: ledgerCostNanos).usdString)), "
            + "cache entries \(cacheEntries), images \(images), labelled lookups \(labelledLookups), cache settings \(cacheSettings)"
    }
}

/// Counting a backend's contents.
public protocol StoreCounting: Sendable {
    func census() async throws -> StoreCensus
}

/// Writing rows copied from another backend as they are (ids, hashes and times kept); every
/// method skips rows already present, so a copy can run again.
public protocol StoreImporter: Sendable {
    func importKeys(_ keys: [VirtualKey]) async throws
    func importNamespaceLimits(_ limits: [(namespace: String, limits: SpendLimits)]) async throws
    func importLedger(_ rows: [UsageRecord]) async throws
    func importLookups(_ entries: [LookupLogEntry]) async throws
    /// Alert claims as they are (a key already there is left alone).
    func importAlertClaims(_ claims: [AlertClaimRecord]) async throws
}
