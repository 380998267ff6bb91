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

    /// A per-request point read run on the calling thread. One indexed SELECT takes tens of
    /// microseconds, less than the two thread hops of an awaited read (~0.1 ms each on a 2-core
    /// VM; measured with `bench gateway`). Safe to block on: WAL readers never wait for the
    /// writer, and with 64 reader connections a read never waits for a connection. Only for
    /// single indexed SELECTs on the request path; scans and reports use the awaited reads.
    public func readInline<T>(_ value: (Database) throws -> T) throws -> T {
        try writer.unsafeRead(value)
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
        migrator.registerMigration("v3") { db in
            // Hits by type, an LRU order over "last used" (last hit, else creation), the images each
            // entry uses (so unreferenced files can be found), and counters that outlive purges.
            try db.alter(table: "cache_entries") { t in
                t.add(column: "direct_hits", .integer).notNull().defaults(to: 0)
                t.add(column: "semantic_hits", .integer).notNull().defaults(to: 0)
            }
            try db.execute(sql: "CREATE INDEX cache_entries_last_used ON cache_entries(COALESCE(last_hit_at, created_at))")
            try db.execute(sql: "CREATE INDEX cache_entries_scope ON cache_entries(namespace, model)")
            try db.create(table: "cache_entry_images") { t in
                t.column("entry_id", .integer).notNull().references("cache_entries", onDelete: .cascade)
                t.column("position", .integer).notNull()
                t.column("image_id", .text).notNull()
                t.primaryKey(["entry_id", "position"])
            }
            try db.create(index: "cache_entry_images_image", on: "cache_entry_images", columns: ["image_id"])
            try db.execute(sql: """
                INSERT INTO cache_entry_images (entry_id, position, image_id)
                SELECT cache_entries.id, item.key, json_extract(item.value, '$.id') FROM cache_entries, json_each(cache_entries.images) AS item
                """)
            try db.create(table: "cache_counters") { t in
                t.column("namespace", .text).notNull()
                t.column("model", .text).notNull()
                t.column("direct_hits", .integer).notNull().defaults(to: 0)
                t.column("semantic_hits", .integer).notNull().defaults(to: 0)
                t.column("misses", .integer).notNull().defaults(to: 0)
                t.primaryKey(["namespace", "model"])
            }
            try db.alter(table: "images") { t in
                t.add(column: "last_used_at", .datetime)
            }
        }
        migrator.registerMigration("v4") { db in
            try db.create(table: "usage_ledger") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("request_id", .text).notNull().unique()
                t.column("created_at", .datetime).notNull()
                t.column("key_id", .text)
                t.column("key_name", .text)
                t.column("namespace", .text)
                t.column("endpoint", .text).notNull()
                t.column("provider", .text)
                t.column("model_requested", .text)
                t.column("model_used", .text)
                t.column("status", .integer).notNull()
                t.column("error_code", .text)
                t.column("cache", .text)
                t.column("similarity", .double)
                t.column("images", .integer).notNull()
                t.column("size", .text)
                t.column("quality", .text)
                t.column("text_input_tokens", .integer).notNull()
                t.column("cached_text_input_tokens", .integer).notNull()
                t.column("image_input_tokens", .integer).notNull()
                t.column("cached_image_input_tokens", .integer).notNull()
                t.column("image_output_tokens", .integer).notNull()
                t.column("text_output_tokens", .integer).notNull()
                t.column("usage_source", .text)
                t.column("cost_nanos", .integer)
                t.column("saved_nanos", .integer).notNull()
                t.column("embedding_tokens", .integer).notNull()
                t.column("latency_ms", .integer).notNull()
                t.column("upstream_latency_ms", .integer)
                t.column("price_version", .text)
                t.column("cache_entry_id", .integer)
            }
            try db.create(index: "usage_ledger_time", on: "usage_ledger", columns: ["created_at"])
            try db.create(index: "usage_ledger_key_time", on: "usage_ledger", columns: ["key_id", "created_at"])
            try db.create(index: "usage_ledger_namespace_time", on: "usage_ledger", columns: ["namespace", "created_at"])
            // Spend budgets and rate limits per key and per namespace.
            try db.alter(table: "virtual_keys") { t in
                t.add(column: "limits", .text)
            }
            try db.create(table: "namespace_limits") { t in
                t.primaryKey("namespace", .text)
                t.column("limits", .text).notNull()
                t.column("updated_at", .datetime).notNull()
            }
            // What the miss that stored an entry cost: a hit's saved amount.
            try db.alter(table: "cache_entries") { t in t.add(column: "cost_nanos", .integer) }
        }
        migrator.registerMigration("v5") { db in
            try db.create(table: "lookup_log") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("created_at", .datetime).notNull()
                t.column("request_id", .text).notNull()
                t.column("namespace", .text).notNull()
                t.column("model", .text).notNull()
                t.column("prompt", .text)
                t.column("prompt_hash", .text).notNull()
                t.column("candidate_id", .integer)
                t.column("candidate_prompt", .text)
                t.column("candidate_hash", .text)
                t.column("similarity", .double)
                t.column("refused_by", .text)
                t.column("decision", .text).notNull()
                t.column("threshold", .double).notNull()
                t.column("candidate_cost_nanos", .integer)
                t.column("label", .text)
                t.column("labelled_by", .text)
                t.column("labelled_at", .datetime)
            }
            try db.create(index: "lookup_log_namespace_time", on: "lookup_log", columns: ["namespace", "created_at"])
            try db.create(table: "cache_settings") { t in
                t.column("namespace", .text).notNull()
                t.column("model", .text).notNull()
                t.column("threshold", .double)
                t.column("word_similarity", .double)
                t.primaryKey(["namespace", "model"])
            }
            try db.create(table: "cache_settings_audit") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("at", .datetime).notNull()
                t.column("by", .text).notNull()
                t.column("namespace", .text).notNull()
                t.column("model", .text).notNull()
                t.column("field", .text).notNull()
                t.column("old_value", .double)
                t.column("new_value", .double)
            }
        }
        migrator.registerMigration("v6") { db in
            // Hardening: estimated costs flagged, upstream attempts per row, and requests without
            // a valid key counted per minute and address instead of one row each.
            try db.alter(table: "usage_ledger") { t in
                t.add(column: "cost_estimated", .boolean).notNull().defaults(to: false)
                t.add(column: "upstream_attempts", .text)
            }
            try db.create(table: "unauthenticated_requests") { t in
                t.column("minute", .datetime).notNull()
                t.column("source", .text).notNull()
                t.column("count", .integer).notNull()
                t.primaryKey(["minute", "source"])
            }
        }
        migrator.registerMigration("v7") { db in
            // Alerts sent, by deduplication key: each goes out once, also across restarts.
            try db.create(table: "alerts_sent") { t in
                t.primaryKey("key", .text)
                t.column("sent_at", .datetime).notNull().indexed()
            }
        }
        migrator.registerMigration("v8") { db in
            // When a claimed alert was delivered: a claim never marked (its sender died or every
            // try failed) may be taken over once its lease passed. Claims made before this
            // migration were sent right after claiming: they count as delivered.
            try db.alter(table: "alerts_sent") { t in t.add(column: "delivered_at", .datetime) }
            try db.execute(sql: "UPDATE alerts_sent SET delivered_at = sent_at")
        }
        migrator.registerMigration("v9") { db in
            // The alert kept with its claim (bounded text) and when it was first raised: one never
            // marked delivered is sent again once its lease lapsed, without waiting to be raised
            // again (a budget that reached 100% spends nothing more to raise its alert).
            try db.alter(table: "alerts_sent") { t in
                t.add(column: "alert", .text)
                t.add(column: "raised_at", .datetime)
            }
        }
        return migrator
    }
}
