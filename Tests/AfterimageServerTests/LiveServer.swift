import AfterimageCore
import AfterimageServer
import AfterimageStorage
import AfterimageTesting
import Foundation

/// `afterimage serve` as its own process (the debug binary) against a stub upstream, with a key
/// created as the CLI would: for tests that kill the server or measure its memory.
struct LiveServer {
    let process: LiveProcess
    let base: String
    let secret: String
    let dataDirectory: URL

    /// Kills the server and removes its directory (config and data).
    func remove() {
        process.kill()
        try? FileManager.default.removeItem(at: dataDirectory.deletingLastPathComponent())
    }

    /// Writes a config (hashing embedder, shipped pricing and guard vocabulary, `extraServer`
    /// lines under `server:`), creates a key and starts the server.
    /// With `databaseURL` the server runs on PostgreSQL (a replica) and `secret` names a key that
    /// already exists there.
    static func start(stub: StubUpstream, extraServer: [String] = [], databaseURL: String? = nil, secret existing: String? = nil) async throws -> LiveServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("afterimage-live-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let root = TestGateway.packageRoot.path
        let data = directory.appendingPathComponent("data")
        let config = directory.appendingPathComponent("afterimage.yaml")
        let server = (["host: 127.0.0.1", "port: 0"] + extraServer).map { "  \($0)" }.joined(separator: "\n")
        try """
            server:
            \(server)
            data_dir: \(data.path)
            pricing_file: \(root)/Config/pricing.yaml
            log_level: warning
            cache:
              guard: {vocabulary_dir: \(root)/Config/guard}
              embedder: {kind: hashing}
            """.write(to: config, atomically: true, encoding: .utf8)
        var environment = ["PATH": "/usr/bin:/bin", "AFTERIMAGE_UPSTREAM_BASE_URL": stub.baseURL, "OPENAI_API_KEY": "sk-up"]
        let secret: String
        if let databaseURL, let existing {
            environment["AFTERIMAGE_STORAGE_BACKEND"] = "postgres"
            environment["AFTERIMAGE_DATABASE_URL"] = databaseURL
            environment["AFTERIMAGE_SIGNING_SECRET"] = TestGateway.signingSecret
            secret = existing
        } else {
            let database = try AppDatabase.open(dataDirectory: data)
            secret = KeySecret.generate()
            _ = try await SQLiteKeyStore(database: database).create(name: "live", namespace: nil, allowedModels: nil, expiresAt: nil, secret: secret)
        }
        let process = try LiveProcess(CommandLineTests.binary, ["serve", "--config", config.path], environment: environment, directory: directory)
        guard let listening = await process.line(containing: "listening on"), let start = listening.range(of: "http://") else {
            process.kill()
            throw ConfigurationError(key: "serve", problem: "the server did not start: \(process.stderr)")
        }
        return LiveServer(process: process, base: String(listening[start.lowerBound...]), secret: secret, dataDirectory: data)
    }
}
