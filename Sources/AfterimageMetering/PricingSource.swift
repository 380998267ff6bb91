import AfterimageCore
import Foundation
import Logging
import Synchronization

/// The current price table, reloaded when the pricing file changes (checked at most once a
/// second, by content hash). A file that fails to parse keeps the previous table
/// and logs the error once per change.
public final class PricingSource: Sendable {
    struct State {
        var table: PriceTable
        var stamp: String?
        var checkedAt: Date
    }

    let path: String?
    let logger: Logger
    let state: Mutex<State>

    /// Loads `path` (nil or missing file: an empty table, so every cost is null). Throws when the
    /// file exists and is invalid at startup.
    public init(path: String?, logger: Logger = Logger(label: "afterimage.pricing")) throws {
        self.path = path
        self.logger = logger
        var table = PriceTable(version: "none")
        var stamp: String?
        if let path, FileManager.default.fileExists(atPath: path) {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            table = try PricingFile.parse(text)
            stamp = Self.stamp(path)
        }
        state = Mutex(State(table: table, stamp: stamp, checkedAt: Date()))
    }

    /// A fixed table (tests, tools).
    public init(table: PriceTable) {
        path = nil
        logger = Logger(label: "afterimage.pricing")
        state = Mutex(State(table: table, stamp: nil, checkedAt: Date()))
    }

    /// The table in force now.
    public func current(now: Date = Date()) -> PriceTable {
        guard let path else { return state.withLock { $0.table } }
        let due = state.withLock { state -> Bool in
            guard now.timeIntervalSince(state.checkedAt) >= 1 else { return false }
            state.checkedAt = now
            return true
        }
        if due, let stamp = Self.stamp(path), stamp != state.withLock({ $0.stamp }) {
            do {
                let table = try PricingFile.parse(try String(contentsOfFile: path, encoding: .utf8))
                state.withLock {
                    $0.table = table
                    $0.stamp = stamp
                }
                logger.notice("pricing reloaded", metadata: ["version": "\(table.version)"])
            } catch {
                state.withLock { $0.stamp = stamp }
                logger.error("pricing file not reloaded, keeping the previous prices", metadata: ["error": "\(error)"])
            }
        }
        return state.withLock { $0.table }
    }

    /// The file's content hash: a change is seen even within one mtime tick.
    static func stamp(_ path: String) -> String? {
        FileManager.default.contents(atPath: path)?.sha256Hex
    }
}
