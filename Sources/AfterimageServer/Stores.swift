import AfterimageCore
import AfterimagePostgres
import AfterimageStorage
import Foundation
import Logging
import ServiceLifecycle

/// Every store the server and the CLI use, behind their ports. This is the one place that
/// decides the storage backend — SQLite through GRDB with content-addressed files under
/// `data_dir`, or one PostgreSQL database shared by every replica; nothing else opens a database.
public struct Stores: Sendable {
    public let keys: any KeyStore
    public let namespaceLimits: any NamespaceLimitStore
    public let cache: any CacheStore
    public let cacheSettings: any CacheSettingsStore
    public let lookupLog: any LookupLog
    public let ledger: any UsageLedgerStore
    public let blobs: any BlobStore
    /// Other processes' cache writes (nil when this process is the only writer: SQLite).
    public let cacheChanges: (any CacheChangeFeed)?
    /// Limits and budgets counted in the shared database (nil: counted in this process).
    public let sharedLimits: (any SpendLimiter)?
    /// Single-flight claims shared by replicas (nil: one process).
    public let flights: (any FlightClaims)?
    /// Alerts already sent (each goes out once, across restarts and replicas).
    public let alerts: any AlertClaims
    /// Counts what the backend holds (checks after a copy).
    public let census: any StoreCounting
    /// Writes rows copied from another backend (PostgreSQL only: the target of a migration).
    public let importer: (any StoreImporter)?
    /// What must run beside the server (the PostgreSQL pool and change listener).
    public let services: [any Service]
    /// The backend's name for logs and `/readyz`.
    public let backend: AfterimageConfiguration.Storage.Backend
    /// Whether the database answers (`/readyz`).
    public let isReachable: @Sendable () async -> Bool
    /// Closes the database connections (PostgreSQL; SQLite closes with its last reference).
    public var close: @Sendable () -> Void = {}

    /// Opens (and migrates) the configured backend. Only the server (which holds the data
    /// directory's lock) sweeps temporary files left by a crash: a CLI command must not delete
    /// the files a running server is writing.
    public static func open(_ configuration: AfterimageConfiguration, sweepTemporaryFiles: Bool = false, logger: Logger? = nil) async throws -> Stores {
        switch configuration.storage.backend {
        case .sqlite:
            return try open(dataDirectory: configuration.dataDirectoryURL, lookupLogMaxRows: configuration.cache.lookupLogMaxRows, sweepTemporaryFiles: sweepTemporaryFiles)
        case .postgres:
            guard let settings = configuration.storage.postgres else {
                throw ConfigurationError(key: "storage.postgres.url", problem: "is required with storage.backend: postgres (or set AFTERIMAGE_DATABASE_URL)")
            }
            let diskCache = configuration.files.diskCacheBytes > 0
                ? try ImageDiskCache(directory: configuration.dataDirectoryURL.appendingPathComponent("image-cache", isDirectory: true), maxBytes: configuration.files.diskCacheBytes)
                : nil
            return try await openPostgres(settings, lookupLogMaxRows: configuration.cache.lookupLogMaxRows, diskCache: diskCache, logger: logger ?? Logger(label: "afterimage.postgres"))
        }
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
            cacheChanges: nil, sharedLimits: nil, flights: nil, alerts: SQLiteAlertClaims(database: database), census: SQLiteCensus(database: database), importer: nil, services: [], backend: .sqlite,
            isReachable: { await database.isReachable() }
        )
    }

    /// The PostgreSQL backend: connects, migrates (under the advisory lock) and returns its stores.
    public static func openPostgres(_ settings: PostgresSettings, lookupLogMaxRows: Int = 100_000, diskCache: ImageDiskCache?, logger: Logger) async throws -> Stores {
        let database = try PostgresBackend(settings: settings, logger: logger)
        do {
            _ = try await withDeadline(.seconds(30)) { try await database.migrate() }
        } catch {
            database.shutdown()
            throw StorageUnavailable(reason: "PostgreSQL at \(settings.redactedDescription) did not accept the migrations: \(String(describing: error).prefix(300))")
        }
        let feed = PostgresCacheChangeFeed(database: database)
        let limiter = PostgresSpendLimiter(database: database)
        return Stores(
            keys: PostgresKeyStore(database: database),
            namespaceLimits: PostgresNamespaceLimitStore(database: database),
            cache: PostgresCacheStore(database: database),
            cacheSettings: PostgresCacheSettingsStore(database: database),
            lookupLog: PostgresLookupLog(database: database, maxRows: lookupLogMaxRows),
            ledger: PostgresUsageLedger(database: database),
            blobs: PostgresBlobStore(database: database, diskCache: diskCache),
            cacheChanges: feed, sharedLimits: limiter, flights: PostgresFlightClaims(database: database),
            alerts: PostgresAlertClaims(database: database),
            census: PostgresImporter(database: database), importer: PostgresImporter(database: database), services: [database, feed, limiter], backend: .postgres,
            isReachable: { await database.isReachable() },
            close: { database.shutdown() }
        )
    }
}

