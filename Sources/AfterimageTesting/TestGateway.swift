import AfterimageCore
import AfterimagePostgres
import AfterimageServer
import AfterimageStorage
import AsyncHTTPClient
import Foundation
import NIOFoundationCompat
import Hummingbird
import Logging
import ServiceLifecycle
import NIOCore
import NIOHTTP1
import Synchronization

/// A real Afterimage server on port 0 with its own data directory, pointed at a stub upstream.
public final class TestGateway: Sendable {
    public let port: Int
    public let dataDirectory: URL
    public let configuration: AfterimageConfiguration
    /// Every route of the server as `METHOD /path` (from the router itself).
    public let routes: [String]
    public static let adminKey = "test-admin-key-0123456789"
    public static let signingSecret = "test-signing-secret-shared-by-replicas"
    /// The gateway's stores, opened from its configuration (SQLite or PostgreSQL).
    public let stores: Stores
    private let task: Task<Void, any Error>
    private let group: ServiceGroup

    /// Starts a gateway; `configure` adjusts the configuration before the build. The backend is
    /// PostgreSQL when `databaseURL` is given (replicas share it) or when the suite runs its
    /// PostgreSQL pass (`AFTERIMAGE_TEST_DATABASE_URL`: a fresh database per gateway), else SQLite.
    public init(
        upstream: StubUpstream,
        dataDirectory: URL? = nil,
        databaseURL: String? = nil,
        logLevel: Logger.Level = .warning,
        configure: (inout AfterimageConfiguration) -> Void = { _ in }
    ) async throws {
        let directory = dataDirectory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("afterimage-test-\(UUID().uuidString)", isDirectory: true)
        var configuration = try ConfigurationLoader.parse(yaml: "", environment: [
            "AFTERIMAGE_HOST": "127.0.0.1",
            "AFTERIMAGE_PORT": "0",
            "AFTERIMAGE_DATA_DIR": directory.path,
            "AFTERIMAGE_UPSTREAM_BASE_URL": upstream.baseURL,
            "OPENAI_API_KEY": "sk-upstream-secret",
            "AFTERIMAGE_ADMIN_KEY": Self.adminKey,
        ])
        var database = databaseURL
        if database == nil, let server = PostgresCluster.suiteServerURL {
            // A restart on the same data directory finds the same database again.
            let marker = directory.appendingPathComponent("test-database-url")
            if let known = try? String(contentsOf: marker, encoding: .utf8) {
                database = known
            } else {
                let fresh = try await PostgresCluster.freshDatabase(on: server)
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                try fresh.write(to: marker, atomically: true, encoding: .utf8)
                database = fresh
            }
        }
        if let database {
            configuration.storage.backend = .postgres
            // A generous operation limit: the whole suite shares one loaded 2-core machine (the
            // outage test sets its own short one).
            configuration.storage.postgres = PostgresSettings(url: database, poolSize: 6, tls: .disable, operationTimeoutMs: 20_000)
            configuration.files.backend = .postgres
            configuration.signingSecret = Self.signingSecret
        }
        configuration.embedder.kind = .hashing
        configuration.cache.vocabularyDirectory = Self.packageRoot.appendingPathComponent("Config/guard").path
        configuration.pricingFile = Self.packageRoot.appendingPathComponent("Config/pricing.yaml").path
        configuration.upstream.initialBackoffMs = 5
        configuration.upstream.maxBackoffMs = 50
        // The stub serves its image URLs over plain http on loopback: allowed for tests only
        // (its host:port is still the only allowed image host). Hostile-URL tests switch it off.
        configuration.upstream.imageDownload.allowHTTP = true
        configuration.upstream.imageDownload.allowPrivateNetworks = true
        configure(&configuration)
        var logger = Logger(label: "afterimage-test")
        logger.logLevel = logLevel
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        var routes = [String]()
        let app = try await AfterimageApp.build(
            configuration: configuration, logger: logger, onServerRunning: { port in continuation.yield(port) }, onRoutes: { routes = $0 }
        )
        // The test's own handle on the stores: a small pool of its own.
        var storesConfiguration = configuration
        storesConfiguration.storage.postgres?.poolSize = 2
        self.stores = try await Stores.open(storesConfiguration, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task { try await group.run() }
        var bound = 0
        for await port in stream {
            bound = port
            break
        }
        self.task = task
        self.group = group
        self.port = bound
        self.dataDirectory = directory
        self.configuration = configuration
        self.routes = routes
    }

    /// The environment a CLI command needs to use this gateway's stores (data directory, and the
    /// database when the backend is PostgreSQL).
    public var cliEnvironment: [String: String] {
        var environment = ["AFTERIMAGE_DATA_DIR": dataDirectory.path]
        if configuration.storage.backend == .postgres, let url = configuration.storage.postgres?.url {
            environment["AFTERIMAGE_STORAGE_BACKEND"] = "postgres"
            environment["AFTERIMAGE_DATABASE_URL"] = url
        }
        return environment
    }

    /// Runs one SQL statement on the gateway's database from outside (tests that break or inspect
    /// rows directly); returns the first column of the first row, if any, as text.
    @discardableResult
    public func executeSQL(_ sql: String) async throws -> String? {
        if configuration.storage.backend == .postgres, let url = configuration.storage.postgres?.url {
            let outcome = try await ChildProcess.run(
                "/usr/bin/psql", [url, "-v", "ON_ERROR_STOP=1", "-tAqc", sql], environment: ["PATH": "/usr/bin:/bin"],
                directory: FileManager.default.temporaryDirectory
            )
            guard outcome.status == 0 else { throw PostgresCluster.ClusterError(description: "psql failed: \(outcome.stderr.suffix(500))") }
            return outcome.stdout.split(separator: "\n").first.map(String.init)
        }
        return try await AppDatabase.open(dataDirectory: dataDirectory).writer.write { db in
            let statement = try db.makeStatement(sql: sql)
            if statement.columnCount == 0 {
                try statement.execute()
                return nil
            }
            return try String.fetchOne(statement)
        }
    }

    /// Stops the server (its data directory stays, for restart tests).
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        stores.close()
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// The repository root (for `Config/…`).
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Creates a key directly in the database, as the CLI does; returns (key, secret).
    public func createKey(
        name: String = "test", namespace: String? = nil, models: [String]? = nil, expiresAt: Date? = nil, limits: SpendLimits = SpendLimits()
    ) async throws -> (VirtualKey, String) {
        let store = stores.keys
        let secret = KeySecret.generate()
        let key = try await store.create(name: name, namespace: namespace, allowedModels: models, expiresAt: expiresAt, limits: limits, secret: secret)
        return (key, secret)
    }

    /// The ledger row of a request (by its `id` / `x-request-id`).
    public func ledgerRow(_ requestID: String) async throws -> UsageRecord? {
        try await stores.ledger.row(requestID: requestID)
    }
}

/// A plain HTTP client for tests, returning status, headers and body.
public enum TestHTTP {
    public struct Reply: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: Data

        /// The body as JSON.
        public var json: JSONValue { (try? JSONDecoder().decode(JSONValue.self, from: body)) ?? .null }
        /// `error.code` of an error envelope.
        public var errorCode: String? { json["error"]?["code"]?.stringValue }
        public var errorParam: String? { json["error"]?["param"]?.stringValue }
    }

    public static func request(
        _ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: HTTPClientRequest.Body? = nil,
        timeout: Duration = .seconds(60)
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = body }
        let response = try await HTTPClient.shared.execute(request, timeout: .init(timeout))
        let data = try await response.body.collect(upTo: 512 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: Data(buffer: data))
    }

    /// POSTs a JSON value.
    public static func postJSON(
        _ url: String, _ value: JSONValue, key: String?, headers: [(String, String)] = [], timeout: Duration = .seconds(60)
    ) async throws -> Reply {
        var all = headers + [("Content-Type", "application/json")]
        if let key { all.append(("Authorization", "Bearer \(key)")) }
        let data = try JSONEncoder.afterimage.encode(value)
        return try await request(.POST, url, headers: all, body: .bytes(ByteBuffer(bytes: data)), timeout: timeout)
    }

    /// A multipart form for edit requests.
    public struct Form: Sendable {
        public var boundary = "test-boundary-\(UUID().uuidString)"
        public var parts: [(name: String, filename: String?, contentType: String?, data: Data)] = []

        public init() {}

        public mutating func field(_ name: String, _ value: String) {
            parts.append((name, nil, nil, Data(value.utf8)))
        }

        public mutating func file(_ name: String, filename: String, data: Data, contentType: String = "application/octet-stream") {
            parts.append((name, filename, contentType, data))
        }

        public var body: Data {
            var out = Data()
            for part in parts {
                out.append(Data("--\(boundary)\r\n".utf8))
                var disposition = "Content-Disposition: form-data; name=\"\(part.name)\""
                if let filename = part.filename { disposition += "; filename=\"\(filename)\"" }
                out.append(Data("\(disposition)\r\n".utf8))
                if let contentType = part.contentType { out.append(Data("Content-Type: \(contentType)\r\n".utf8)) }
                out.append(Data("\r\n".utf8))
                out.append(part.data)
                out.append(Data("\r\n".utf8))
            }
            out.append(Data("--\(boundary)--\r\n".utf8))
            return out
        }
    }

    /// POSTs a multipart form.
    public static func postForm(_ url: String, _ form: Form, key: String?) async throws -> Reply {
        var headers = [("Content-Type", "multipart/form-data; boundary=\(form.boundary)")]
        if let key { headers.append(("Authorization", "Bearer \(key)")) }
        return try await request(.POST, url, headers: headers, body: .bytes(ByteBuffer(bytes: form.body)))
    }
}
