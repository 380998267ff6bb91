import AfterimageCore
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The shared PostgreSQL database of every replica: a pooled client and versioned migrations
/// applied under an advisory lock, so replicas starting together apply each migration once. The
/// pool runs from `init` (so CLI commands can use it too); as a `Service` it stops the pool at
/// graceful shutdown.
public final class PostgresBackend: Service, Sendable {
    public let client: PostgresClient
    let logger: Logger
    private let pool: Task<Void, Never>
    /// The longest one database operation may take (waiting for a connection included) before
    /// it fails as `StorageUnavailable`: an outage is answered with 503s, not waited out.
    let operationTimeout: Duration
    let endpoint: String
    let settings: PostgresSettings
    /// Open while the database is known to be unreachable: operations fail at once (no request
    /// waits out the timeout) until a background probe reaches the database again.
    private let circuit = Mutex<(open: Bool, closed: Bool)>((false, false))

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
        self.operationTimeout = .milliseconds(settings.operationTimeoutMs)
        self.endpoint = settings.redactedDescription
        self.settings = settings
        self.pool = Task { await client.run() }
    }

    /// Runs a query within the operation timeout; connection failures become `StorageUnavailable`.
    /// `timeout` overrides the operation timeout (reports and maintenance over big tables).
    @discardableResult
    public func query(_ query: PostgresQuery, timeout: Duration? = nil) async throws -> PostgresRowSequence {
        let client = client, logger = logger
        return try await guarded(timeout) { try await client.query(query, logger: logger) }
    }

    /// Runs `body` on one pooled connection (the timeout covers getting it and the body).
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let client = client
        return try await guarded(nil) { try await client.withConnection(body) }
    }

    /// Runs `body` in one transaction (committed when it returns, rolled back when it throws).
    public func withTransaction<T: Sendable>(
        timeout: Duration? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let client = client, logger = logger
        return try await guarded(timeout) { try await client.withTransaction(logger: logger) { try await body($0) } }
    }

    /// The longest a report or maintenance statement may run.
    public static let slowOperation = Duration.seconds(300)

    func guarded<T: Sendable>(_ timeout: Duration? = nil, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        if isUnavailable { throw StorageUnavailable(reason: "PostgreSQL at \(endpoint) is unreachable (reconnecting)") }
        do {
            return try await withDeadline(timeout ?? operationTimeout, work)
        } catch let error as DeadlineExceeded {
            // Slow is not down: only a server that refuses connections opens the circuit.
            if await !acceptsConnections() { trip() }
            throw StorageUnavailable(reason: "PostgreSQL at \(endpoint) did not answer within \(error.limit)")
        } catch {
            if Self.isUnavailable(error) {
                trip()
                throw StorageUnavailable(reason: "PostgreSQL at \(endpoint) is unreachable: \(String(reflecting: error).prefix(300))")
            }
            throw error
        }
    }

    /// Whether the server accepts a TCP connection within a second (outside the pool, whose
    /// requests wait rather than fail while the server is down).
    func acceptsConnections() async -> Bool {
        guard let endpoint = try? settings.endpoint() else { return false }
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(1))
                .connect(host: endpoint.host, port: endpoint.port).get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }

    /// Opens the circuit and starts the probe that closes it again (one at a time).
    private func trip() {
        let start = circuit.withLock { state -> Bool in
            guard !state.open, !state.closed else { return false }
            state.open = true
            return true
        }
        guard start else { return }
        logger.error("PostgreSQL is unreachable; answering 503 until it is back", metadata: ["database": "\(endpoint)"])
        let client = client, logger = logger
        Task {
            var pause = Duration.milliseconds(100)
            while !circuit.withLock({ $0.closed }) {
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(2))
                let reached = (try? await withDeadline(.seconds(2)) { try await client.query("SELECT 1", logger: logger) }) != nil
                if reached {
                    circuit.withLock { $0.open = false }
                    logger.notice("PostgreSQL is reachable again", metadata: ["database": "\(endpoint)"])
                    return
                }
            }
        }
    }

    /// Whether a failure means the database cannot be used now (connection lost or refused, server
    /// shutting down or starting) rather than that a statement was wrong.
    static func isUnavailable(_ error: any Error) -> Bool {
        if let transaction = error as? PostgresTransactionError {
            return [transaction.beginError, transaction.closureError, transaction.commitError, transaction.rollbackError]
                .compactMap { $0 }.contains(where: isUnavailable)
        }
        guard let psql = error as? PSQLError else { return error is StorageUnavailable }
        if psql.code == .server {
            // Class 08: connection exception; 57P01-57P03: admin shutdown, crash shutdown, cannot connect now.
            let state = psql.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state)
        }
        return [.serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown, .poolClosed].contains(psql.code)
    }

    deinit { pool.cancel() }

    /// Waits for graceful shutdown (or cancellation), then closes the pool.
    public func run() async throws {
        try? await gracefulShutdown()
        shutdown()
    }

    /// Closes the pool (queries after this fail).
    public func shutdown() {
        circuit.withLock { $0.closed = true }
        pool.cancel()
    }

    /// Whether operations currently fail fast (the database was found unreachable).
    public var isUnavailable: Bool { circuit.withLock { $0.open } }

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

    /// Every schema version, in order (what `migrate` applies to an empty database).
    public static var schemaVersions: [String] { PostgresSchema.migrations.map(\.version) }

    /// Whether the database answers (`/readyz`).
    public func isReachable() async -> Bool {
        (try? await query("SELECT 1")) != nil
    }
}
