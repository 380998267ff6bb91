import AfterimageCore
import Foundation
import Logging
import Synchronization

/// The current price table. `reloadIfChanged()` re-reads the pricing file and swaps in its prices
/// when its content changed (the server calls it every second, off the request path); a file that
/// fails to parse keeps the previous table and logs the error once per change.
public final class PricingSource: Sendable {
    struct State {
        var table: PriceTable
        /// SHA-256 of the file content last seen.
        var stamp: String?
    }

    let path: String?
    let logger: Logger
    let state: Mutex<State>

    /// Loads `path` (nil or missing file: an empty table, so every cost is null). Throws when the
    /// file exists and is invalid at startup.
    public init(path: String?, logger: Logger = Logger(label: "afterimage.pricing")) throws {
        self.path = path
        self.logger = logger
        var state = State(table: PriceTable(version: "none"), stamp: nil)
        if let path, let data = FileManager.default.contents(atPath: path) {
            state = State(table: try PricingFile.parse(String(decoding: data, as: UTF8.self)), stamp: data.sha256Hex)
        }
        self.state = Mutex(state)
    }

    /// A fixed table (tests, tools).
    public init(table: PriceTable) {
        path = nil
        logger = Logger(label: "afterimage.pricing")
        state = Mutex(State(table: table, stamp: nil))
    }

    /// The table in force now (no I/O).
    public func current() -> PriceTable {
        state.withLock { $0.table }
    }

    /// Reads the file once and, when its content changed, parses it and swaps the table in.
    /// Blocking file I/O: call it from a Dispatch thread.
    public func reloadIfChanged() {
        guard let path, let data = FileManager.default.contents(atPath: path) else { return }
        let stamp = data.sha256Hex
        guard stamp != state.withLock({ $0.stamp }) else { return }
        do {
            let table = try PricingFile.parse(String(decoding: data, as: UTF8.self))
            state.withLock { $0 = State(table: table, stamp: stamp) }
            logger.notice("pricing reloaded", metadata: ["version": "\(table.version)"])
        } catch {
            state.withLock { $0.stamp = stamp }
            logger.error("pricing file not reloaded, keeping the previous prices", metadata: ["error": "\(error)"])
        }
    }
}
