import AfterimageCore
import Foundation
import NIOSSL
import PostgresNIO

/// `storage.postgres.*`: where the shared database is and how to reach it.
public struct PostgresSettings: Sendable, Equatable {
    /// `storage.postgres.tls`.
    public enum TLSMode: String, Sendable, CaseIterable {
        case disable, prefer, require
    }

    /// `postgres://user[:password]@host[:port]/database` (`storage.postgres.url`, env `AFTERIMAGE_DATABASE_URL`).
    public var url: String
    /// Most pooled connections (`storage.postgres.pool_size`).
    public var poolSize = 10
    public var tls = TLSMode.prefer
    /// The longest one database operation may take before requests answer 503
    /// (`storage.postgres.timeout_ms`, default 5000).
    public var operationTimeoutMs = 5000

    public init(url: String, poolSize: Int = 10, tls: TLSMode = .prefer, operationTimeoutMs: Int = 5000) {
        self.url = url
        self.poolSize = poolSize
        self.tls = tls
        self.operationTimeoutMs = operationTimeoutMs
    }

    /// The URL's parts; a problem names what is wrong (never the password).
    public struct Endpoint: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var username: String
        public var password: String?
        public var database: String
    }

    /// Parses and checks the URL (scheme, host, port range, user, database; at most 2 KiB).
    public func endpoint() throws -> Endpoint {
        guard url.utf8.count <= 2048, let components = URLComponents(string: url) else {
            throw AfterimageError.invalidPayload("must be a URL like postgres://user:password@host:5432/database")
        }
        guard ["postgres", "postgresql"].contains(components.scheme?.lowercased() ?? "") else {
            throw AfterimageError.invalidPayload("must start with postgres:// or postgresql://")
        }
        guard let host = components.host, !host.isEmpty else { throw AfterimageError.invalidPayload("names no host") }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw AfterimageError.invalidPayload("has a port outside 1-65535") }
        guard let user = components.user, !user.isEmpty else { throw AfterimageError.invalidPayload("names no user") }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else { throw AfterimageError.invalidPayload("names no database (…/DATABASE)") }
        return Endpoint(host: host, port: port, username: user, password: components.password, database: database)
    }

    /// `user@host:port/database` — the URL without its password, for logs and errors.
    public var redactedDescription: String {
        guard let endpoint = try? endpoint() else { return "(an invalid URL)" }
        return "\(endpoint.username)@\(endpoint.host):\(endpoint.port)/\(endpoint.database)"
    }

    /// The client configuration for these settings.
    func clientConfiguration() throws -> PostgresClient.Configuration {
        let endpoint = try endpoint()
        let tls: PostgresClient.Configuration.TLS = switch self.tls {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: endpoint.host, port: endpoint.port, username: endpoint.username, password: endpoint.password, database: endpoint.database, tls: tls
        )
        configuration.options.maximumConnections = max(1, poolSize)
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }
}
