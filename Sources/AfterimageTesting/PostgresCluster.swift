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

    public struct ClusterError: Error, CustomStringConvertible {
        public let description: String
    }
}
