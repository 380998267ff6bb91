import Foundation
import GRDB

/// The one entry point to Afterimage's SQLite database (WAL mode, versioned migrations).
public struct AppDatabase: Sendable {
    /// The underlying pool; every read and write goes through it.
    public let writer: DatabasePool

    /// Opens (creating if needed) the database at `path` and runs pending migrations.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        // GRDB waits for a free reader by blocking a Dispatch thread; on a 2-core machine a few such
        // waits can starve the threads that would release the readers. Enough readers that
        // concurrent requests never wait.
        configuration.maximumReaderCount = 64
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
        self.writer = pool
    }

    /// Opens `afterimage.sqlite` inside `dataDirectory`, creating the directory.
    public static func open(dataDirectory: URL) throws -> AppDatabase {
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        return try AppDatabase(path: dataDirectory.appendingPathComponent("afterimage.sqlite").path)
    }

    /// Whether the database answers a trivial query.
    public func isReachable() async -> Bool {
        (try? await writer.read { db in try Int.fetchOne(db, sql: "SELECT 1") }) == 1
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "virtual_keys") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull()
                t.column("namespace", .text).notNull()
                t.column("allowed_models", .text)
                t.column("prefix", .text).notNull()
                t.column("secret_hash", .text).notNull().unique()
                t.column("created_at", .datetime).notNull()
                t.column("expires_at", .datetime)
                t.column("revoked_at", .datetime)
                t.column("rotated_at", .datetime)
            }
            try db.create(table: "images") { t in
                t.primaryKey("id", .text)
                t.column("format", .text).notNull()
                t.column("width", .integer).notNull()
                t.column("height", .integer).notNull()
                t.column("byte_count", .integer).notNull()
                t.column("created_at", .datetime).notNull()
            }
        }
        migrator.registerMigration("v2") { db in
            try db.create(table: "cache_entries") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("namespace", .text).notNull()
                t.column("partition_key", .text).notNull()
                t.column("direct_key", .text).notNull()
                t.column("prompt", .text).notNull()
                t.column("normalized_prompt", .text).notNull()
                t.column("embedding", .blob)
                t.column("embedding_model", .text)
                t.column("endpoint", .text).notNull()
                t.column("provider", .text).notNull()
                t.column("model", .text).notNull()
                t.column("response", .text).notNull()
                t.column("images", .text).notNull()
                t.column("image_extras", .text).notNull()
                t.column("byte_count", .integer).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("expires_at", .datetime).notNull()
                t.column("last_hit_at", .datetime)
                t.column("hit_count", .integer).notNull().defaults(to: 0)
                t.uniqueKey(["namespace", "partition_key", "direct_key"])
            }
            try db.create(index: "cache_entries_expiry", on: "cache_entries", columns: ["expires_at"])
            try db.create(index: "cache_entries_lru", on: "cache_entries", columns: ["last_hit_at"])
        }
        return migrator
    }
}
