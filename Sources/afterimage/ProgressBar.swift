import Foundation

/// One line redrawn in place (`phase  done/total  [#####.....]  45%`) on standard error while a
/// long command runs — only when a person is watching (stdout and stderr are terminals), so
/// redirected output and logs never get control characters. At most ten redraws a second.
final class ProgressBar: @unchecked Sendable {
    let enabled: Bool
    private let lock = NSLock()
    private var last = ""
    private var lastDrawn = ContinuousClock.now - .seconds(1)

    init(enabled: Bool) {
        self.enabled = enabled
    }

    /// Enabled when stdout and stderr are both terminals — or, for a command whose output is
    /// data meant for a file (`outputIsData`: `usage export`), when stdout is redirected and
    /// stderr is a terminal. `AFTERIMAGE_PROGRESS=0` turns it off, `=1` forces it (scripts that
    /// want it on a pipe).
    static func forTerminal(outputIsData: Bool = false) -> ProgressBar {
        switch ProcessInfo.processInfo.environment["AFTERIMAGE_PROGRESS"] {
        case "0": return ProgressBar(enabled: false)
        case "1": return ProgressBar(enabled: true)
        default:
            let stdout = isatty(STDOUT_FILENO) == 1, stderr = isatty(STDERR_FILENO) == 1
            return ProgressBar(enabled: stderr && (outputIsData ? !stdout : stdout))
        }
    }

    /// The line for `done` of `total` (nil: unknown total, a count only).
    static func line(_ phase: String, _ done: Int, _ total: Int?) -> String {
        var line = "\(phase) \(done)"
        if let total, total > 0 {
            let clamped = min(max(done, 0), total)
            let filled = clamped * 30 / total
            line += "/\(total) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled) + "] \(clamped * 100 / total)%"
        }
        return line
    }

    func update(_ phase: String, _ done: Int, _ total: Int?) {
        guard enabled else { return }
        let line = Self.line(phase, done, total)
        let finished = total.map { done >= $0 } ?? false
        lock.withLock {
            let now = ContinuousClock.now
            guard line != last, finished || now - lastDrawn >= .milliseconds(100) else { return }
            last = line
            lastDrawn = now
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        }
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
