import AfterimageCore
import AfterimageStorage
import Foundation

/// Every store the server and the CLI use, behind their ports. This is the one place that
/// decides the storage backend (today SQLite through GRDB and content-addressed files under
/// `data_dir`); nothing else opens a database.
public struct Stores: Sendable {
    public let keys: any KeyStore
    public let namespaceLimits: any NamespaceLimitStore
    public let cache: any CacheStore
    public let cacheSettings: any CacheSettingsStore
    public let lookupLog: any LookupLog
    public let ledger: any UsageLedgerStore
    public let blobs: any BlobStore
    /// Whether the database answers (`/readyz`).
    public let isReachable: @Sendable () async -> Bool

    /// Opens (and migrates) the configured backend. Only the server (which holds the data
    /// directory's lock) sweeps temporary files left by a crash: a CLI command must not delete
    /// the files a running server is writing.
    public static func open(_ configuration: AfterimageConfiguration, sweepTemporaryFiles: Bool = false) throws -> Stores {
        guard configuration.storage.backend == .sqlite else {
            throw ConfigurationError(
                key: "storage.backend",
                problem: "postgres is not complete yet: keys, namespace limits, cache settings, the lookup log and the ledger have PostgreSQL stores, cache entries and images do not; use sqlite"
            )
        }
        return try open(dataDirectory: configuration.dataDirectoryURL, lookupLogMaxRows: configuration.cache.lookupLogMaxRows, sweepTemporaryFiles: sweepTemporaryFiles)
    }

    /// The SQLite backend in `dataDirectory` (also for benchmarks on a scratch directory).
    public static func open(dataDirectory: URL, lookupLogMaxRows: Int = 100_000, sweepTemporaryFiles: Bool = false) throws -> Stores {
        let database = try AppDatabase.open(dataDirectory: dataDirectory)
        return Stores(
            keys: SQLiteKeyStore(database: database),
            namespaceLimits: SQLiteNamespaceLimitStore(database: database),
            cache: SQLiteCacheStore(database: database),
            cacheSettings: SQLiteCacheSettingsStore(database: database),
            lookupLog: SQLiteLookupLog(database: database, maxRows: lookupLogMaxRows),
            ledger: SQLiteUsageLedger(database: database),
            blobs: try FileBlobStore(database: database, dataDirectory: dataDirectory, sweepTemporaryFiles: sweepTemporaryFiles),
            isReachable: { await database.isReachable() }
        )
    }
}
