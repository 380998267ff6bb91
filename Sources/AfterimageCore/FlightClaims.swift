import Foundation

/// A held claim on one upstream call (see `FlightClaims`).
public struct FlightClaim: Sendable, Equatable {
    public var key: String
    public var owner: String
    public init(key: String, owner: String) {
        self.key = key
        self.owner = owner
    }
}

/// Cluster-wide single-flight: of the replicas missing the same request at once, the one holding
/// the claim calls upstream; the others wait until it is released, then read the cached answer
/// (or claim it themselves when the owner failed, or died and its lease ran out).
public protocol FlightClaims: Sendable {
    /// Claims `key` for `lease` (renewable); nil when another live owner holds it.
    func claim(_ key: String, lease: Duration) async throws -> FlightClaim?
    /// Extends a held claim's lease; false when it was lost (expired and taken over).
    func renew(_ claim: FlightClaim, lease: Duration) async throws -> Bool
    /// Releases a claim (waiters proceed).
    func release(_ claim: FlightClaim) async
    /// Waits until `key` is not held by a live owner, or `timeout` passes; true when free.
    func waitUntilFree(_ key: String, timeout: Duration) async throws -> Bool
}
