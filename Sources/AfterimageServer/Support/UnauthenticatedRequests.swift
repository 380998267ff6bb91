import AfterimageCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Requests that came without a valid key. They write no ledger row each (a flood of them would
/// fill the disk and fsync once per request): they are counted per minute and client address,
/// flushed every few seconds as one row per (minute, address) into `unauthenticated_requests`,
/// and an address over `server.unauthenticated_rpm` gets 429 before its key is even looked up.
/// Every request passes `admit`: the counts sit behind a lock held for a dictionary lookup, not
/// in an actor (no executor switch per request).
final class UnauthenticatedRequests: Service, Sendable {
    /// Distinct addresses tracked per minute; the rest count under `_other`.
    static let maxSources = 1000
    let rpm: Int
    let ledger: any UsageLedgerStore
    let metrics: ServerMetrics
    let logger: Logger
    private let state = Mutex(Counts())

    struct Key: Hashable { var minute: Int64; var source: String }

    struct Counts {
        var minute: Int64 = 0
        /// This minute's counts per address (for the throttle).
        var current: [String: Int] = [:]
        /// Counts not yet written, per (minute, address).
        var pending: [Key: Int] = [:]

        mutating func roll() {
            let now = Int64(Date().timeIntervalSince1970) / 60
            if now != minute {
                minute = now
                current.removeAll()
            }
        }

        /// The address as counted: itself while fewer than `maxSources` are tracked, else `_other`.
        func bounded(_ source: String) -> String {
            let source = String(source.prefix(64))
            return current[source] != nil || current.count < UnauthenticatedRequests.maxSources ? source : "_other"
        }
    }

    init(rpm: Int, ledger: any UsageLedgerStore, metrics: ServerMetrics, logger: Logger) {
        self.rpm = rpm
        self.ledger = ledger
        self.metrics = metrics
        self.logger = logger
    }

    /// 429 when `source` already sent `rpm` unauthenticated requests this minute.
    func admit(source: String) throws {
        guard rpm > 0 else { return }
        let over = state.withLock { counts in
            counts.roll()
            return (counts.current[counts.bounded(source)] ?? 0) >= rpm
        }
        guard over else { return }
        let wait = max(1, Int(60 - Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 60)))
        throw AfterimageError(
            status: 429, code: .rateLimited,
            message: "Too many requests without a valid API key from this address (\(rpm) per minute).", retryAfterSeconds: wait
        )
    }

    /// Counts one refused request from `source`.
    func count(source: String) {
        state.withLock { counts in
            counts.roll()
            let source = counts.bounded(source)
            counts.current[source, default: 0] += 1
            counts.pending[Key(minute: counts.minute, source: source), default: 0] += 1
        }
        metrics.recordUnauthenticated()
    }

    /// Writes the pending counts (added to any row of the same minute and address).
    func flush() async {
        let batch = state.withLock { counts in
            defer { counts.pending.removeAll() }
            return counts.pending
        }
        guard !batch.isEmpty else { return }
        do {
            try await ledger.recordUnauthenticated(batch.map { UnauthenticatedCount(minute: Date(timeIntervalSince1970: TimeInterval($0.key.minute * 60)), source: $0.key.source, count: $0.value) })
        } catch {
            logger.error("unauthenticated request counts not written", metadata: ["error": "\(LogText.bounded("\(error)", 300))"])
        }
    }

    func run() async throws {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .seconds(2))
            await flush()
        }
        await flush()
    }

    var description: String { "unauthenticated-requests" }
}
