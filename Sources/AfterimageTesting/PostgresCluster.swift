import Foundation

/// A throwaway PostgreSQL cluster for one test (`scripts/pg-cluster.sh`: initdb + pg_ctl on a
/// temporary directory and a free loopback port, never a system-wide service). Stop it when done.
public struct PostgresCluster: Sendable {
    public let url: String
    let directory: URL
    static let script = TestGateway.packageRoot.appendingPathComponent("scripts/pg-cluster.sh").path

    /// Starts a cluster; throws with the script's output when PostgreSQL is missing or fails.
    public static func start() async throws -> PostgresCluster {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("afterimage-pg-\(UUID().uuidString)")
        let outcome = try await ChildProcess.run(
            script, ["start", directory.path], environment: ["PATH": "/usr/bin:/bin:/usr/sbin:/sbin"], directory: FileManager.default.temporaryDirectory
        )
        guard outcome.status == 0, let url = outcome.stdout.split(separator: "\n").last.map(String.init), url.hasPrefix("postgres://") else {
            throw ClusterError(description: "pg-cluster.sh start failed (\(outcome.status)): \(outcome.stderr.suffix(2000))")
        }
        return PostgresCluster(url: url, directory: directory)
    }

    /// Stops the cluster and removes its directory.
    public func stop() async {
        _ = try? await ChildProcess.run(
            Self.script, ["stop", directory.path], environment: ["PATH": "/usr/bin:/bin:/usr/sbin:/sbin"], directory: FileManager.default.temporaryDirectory
        )
    }

    /// Stops the server, keeping its data and port (an outage).
    public func pause() async throws {
        let outcome = try await ChildProcess.run(
            Self.script, ["pause", directory.path], environment: ["PATH": "/usr/bin:/bin:/usr/sbin:/sbin"], directory: FileManager.default.temporaryDirectory
        )
        guard outcome.status == 0 else { throw ClusterError(description: "pause failed: \(outcome.stderr.suffix(500))") }
    }

    /// Starts the paused server again.
    public func resume() async throws {
        let outcome = try await ChildProcess.run(
            Self.script, ["resume", directory.path], environment: ["PATH": "/usr/bin:/bin:/usr/sbin:/sbin"], directory: FileManager.default.temporaryDirectory
        )
        guard outcome.status == 0 else { throw ClusterError(description: "resume failed: \(outcome.stderr.suffix(500))") }
    }

    public struct ClusterError: Error, CustomStringConvertible {
        public let description: String
    }
}

extension PostgresCluster {
    /// The server the whole suite runs against in its PostgreSQL pass (`AFTERIMAGE_TEST_DATABASE_URL`,
    /// set by `scripts/test.sh`), or nil (the SQLite pass).
    public static var suiteServerURL: String? {
        ProcessInfo.processInfo.environment["AFTERIMAGE_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A server tests that need PostgreSQL share in every pass (`AFTERIMAGE_TEST_POSTGRES_SERVER`,
    /// set by `scripts/test.sh`), or nil (each such test then starts a cluster of its own).
    public static var sharedServerURL: String? {
        ProcessInfo.processInfo.environment["AFTERIMAGE_TEST_POSTGRES_SERVER"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A database for one test: a fresh one on the suite's server (the PostgreSQL pass) or on the
    /// shared test server, else a throwaway cluster of the test's own (returned, to stop when
    /// done). Sharing one server matters on a loaded 2-core runner: a cluster per test meant
    /// eight `initdb` + server starts at once beside the rest of the suite.
    public static func testDatabase() async throws -> (url: String, ownCluster: PostgresCluster?) {
        if let server = suiteServerURL ?? sharedServerURL { return (try await freshDatabase(on: server), nil) }
        let own = try await start()
        return (own.url, own)
    }

    /// Creates an empty database on the server at `serverURL` and returns its URL (each test
    /// gateway gets its own, so tests running in parallel never see each other's rows).
    public static func freshDatabase(on serverURL: String) async throws -> String {
        guard var components = URLComponents(string: serverURL) else { throw ClusterError(description: "bad server URL") }
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let outcome = try await ChildProcess.run(
            "/usr/bin/psql", [serverURL, "-v", "ON_ERROR_STOP=1", "-qc", "CREATE DATABASE \(name)"],
            environment: ["PATH": "/usr/bin:/bin"], directory: FileManager.default.temporaryDirectory
        )
        guard outcome.status == 0 else { throw ClusterError(description: "CREATE DATABASE failed: \(outcome.stderr.suffix(500))") }
        components.path = "/" + name
        return components.string ?? serverURL
    }
}
