import AfterimageCore
import GRDB

/// Counts what a SQLite data directory holds (the source side of `afterimage storage migrate`).
public struct SQLiteCensus: StoreCounting {
    let database: AppDatabase

    public init(database: AppDatabase) {
        self.database = database
    }

    public func census() async throws -> StoreCensus {
        try await database.writer.read { db in
            var census = StoreCensus()
            func count(_ sql: String) throws -> Int { try Int.fetchOne(db, sql: sql) ?? 0 }
            census.keys = try count("SELECT COUNT(*) FROM virtual_keys")
            census.namespaceLimits = try count("SELECT COUNT(*) FROM namespace_limits")
            census.ledgerRows = try count("SELECT COUNT(*) FROM usage_ledger")
            census.ledgerCostNanos = try Int64.fetchOne(db, sql: "SELECT COALESCE(SUM(cost_nanos), 0) FROM usage_ledger") ?? 0
            census.cacheEntries = try count("SELECT COUNT(*) FROM cache_entries")
            census.images = try count("SELECT COUNT(*) FROM images")
            census.labelledLookups = try count("SELECT COUNT(*) FROM lookup_log WHERE label IS NOT NULL")
            census.cacheSettings = try count("SELECT COUNT(*) FROM cache_settings")
            return census
        }
    }
}
