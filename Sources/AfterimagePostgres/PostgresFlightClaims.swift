import AfterimageCore
import Foundation
import Logging
import PostgresNIO

/// `FlightClaims` in the shared database: a `flight_claims` row per request key (its SHA-256),
/// taken with an insert that only overwrites an expired lease, so exactly one replica holds it.
/// Waiters poll the row (20 ms doubling to 200 ms) — a wait costs one indexed read per poll.
public struct PostgresFlightClaims: FlightClaims {
    let database: PostgresBackend

    public init(database: PostgresBackend) {
        self.database = database
    }

    static func rowKey(_ key: String) -> String { Data(key.utf8).sha256Hex }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    public func claim(_ key: String, lease: Duration) async throws -> FlightClaim? {
        let owner = UUID().uuidString
        let rows = try await database.query(
            """
            INSERT INTO flight_claims (key, owner, expires_at) VALUES (\(Self.rowKey(key)), \(owner), clock_timestamp() + make_interval(secs => \(Self.seconds(lease))))
            ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
            WHERE flight_claims.expires_at < clock_timestamp()
            RETURNING owner
            """)
        for try await _ in rows { return FlightClaim(key: key, owner: owner) }
        return nil
    }

    public func renew(_ claim: FlightClaim, lease: Duration) async throws -> Bool {
        let rows = try await database.query(
            """
            UPDATE flight_claims SET expires_at = clock_timestamp() + make_interval(secs => \(Self.seconds(lease)))
            WHERE key = \(Self.rowKey(claim.key)) AND owner = \(claim.owner) RETURNING owner
            """)
        for try await _ in rows { return true }
        return false
    }

    public func release(_ claim: FlightClaim) async {
        do {
            try await database.query(
                "DELETE FROM flight_claims WHERE key = \(Self.rowKey(claim.key)) AND owner = \(claim.owner)")
        } catch {
            // The lease ends it: waiters take over when it expires.
            database.logger.warning("releasing a flight claim failed", metadata: ["error": "\(String(describing: error).prefix(200))"])
        }
    }

    public func waitUntilFree(_ key: String, timeout: Duration) async throws -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var pause = Duration.milliseconds(20)
        let rowKey = Self.rowKey(key)
        while true {
            var held = false
            let rows = try await database.query(
                "SELECT 1 FROM flight_claims WHERE key = \(rowKey) AND expires_at >= clock_timestamp()")
            for try await _ in rows { held = true }
            if !held { return true }
            if clock.now + pause > deadline { return false }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(200))
        }
    }
}
