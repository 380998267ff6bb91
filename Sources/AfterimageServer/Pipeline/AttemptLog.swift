import Synchronization

/// The outcome of each upstream attempt a request made (`ok`, `http_503`, `timeout`, …), for
/// its ledger row. Only the request that made the calls fills it (single-flight followers don't).
final class AttemptLog: Sendable {
    /// Attempts kept; a request makes at most max_attempts × models of them.
    static let maxAttempts = 64
    private let storage = Mutex<[String]>([])

    func append(_ outcome: String) {
        storage.withLock { if $0.count < Self.maxAttempts { $0.append(outcome) } }
    }

    var outcomes: [String] { storage.withLock { $0 } }
}
