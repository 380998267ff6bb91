import AfterimageCore
import Logging
import PostgresNIO
import ServiceLifecycle

/// The shared PostgreSQL database of every replica: a pooled client (a `Service`: it runs while
/// the service group runs) and versioned migrations applied under an advisory lock, so replicas
/// starting together apply each migration once.
public final class PostgresBackend: Service, Sendable {
    public let client: PostgresClient
    let logger: Logger

    /// The lock every replica takes while migrating (an arbitrary, fixed 64-bit id).
    static let migrationLock: Int64 = 0x4166_7465_7249_6D67

    public init(settings: PostgresSettings, logger: Logger) throws {
        self.client = PostgresClient(configuration: try settings.clientConfiguration(), backgroundLogger: logger)
        self.logger = logger
    }

    /// Runs the connection pool until graceful shutdown (or cancellation).
    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.client.run() }
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
