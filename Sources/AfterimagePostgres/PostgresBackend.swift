import AfterimageCore
import Logging
import PostgresNIO
import ServiceLifecycle

/// The shared PostgreSQL database of every replica: a pooled client and versioned migrations
/// applied under an advisory lock, so replicas starting together apply each migration once. The
/// pool runs from `init` (so CLI commands can use it too); as a `Service` it stops the pool at
/// graceful shutdown.
public final class PostgresBackend: Service, Sendable {
    public let client: PostgresClient
    let logger: Logger
    private let pool: Task<Void, Never>

    /// The lock every replica takes while migrating (an arbitrary, fixed 64-bit id).
    static let migrationLock: Int64 = 0x4166_7465_7249_6D67
    /// Held (per transaction) by the replica evicting cache entries.
    static let evictionLock: Int64 = 0x4166_7465_7249_6D68
    /// Held (per session) by the replica sweeping unreferenced images and old change rows.
    static let sweepLock: Int64 = 0x4166_7465_7249_6D69

    public init(settings: PostgresSettings, logger: Logger) throws {
        let client = PostgresClient(configuration: try settings.clientConfiguration(), backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.pool = Task { await client.run() }
    }

    deinit { pool.cancel() }

    /// Waits for graceful shutdown (or cancellation), then closes the pool.
    public func run() async throws {
        try? await gracefulShutdown()
        shutdown()
    }

    /// Closes the pool (queries after this fail).
    public func shutdown() {
        pool.cancel()
    }

    /// Applies the migrations not applied yet, in order, each in its own transaction, while
    /// holding the migration lock; returns the versions it applied.
    @discardableResult
    public func migrate() async throws -> [String] {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.migrationLock))", logger: logger)
            do {
                let applied = try await Self.migrate(connection, logger: logger)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLock))", logger: logger)
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLock))", logger: logger)
                throw error
            }
        }
    }

    static func migrate(_ connection: PostgresConnection, logger: Logger) async throws -> [String] {
        try await connection.query(
            "CREATE TABLE IF NOT EXISTS afterimage_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
            logger: logger
        )
        var done = Set<String>()
        for try await version in try await connection.query("SELECT version FROM afterimage_migrations", logger: logger).decode(String.self) {
            done.insert(version)
        }
        var applied = [String]()
        for (version, statements) in PostgresSchema.migrations where !done.contains(version) {
            try await connection.query("BEGIN", logger: logger)
            do {
                for statement in statements { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                try await connection.query("INSERT INTO afterimage_migrations (version) VALUES (\(version))", logger: logger)
                try await connection.query("COMMIT", logger: logger)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
            applied.append(version)
        }
        return applied
    }

    /// Whether the database answers (`/readyz`).
    public func isReachable() async -> Bool {
        (try? await client.query("SELECT 1", logger: logger)) != nil
    }
}
