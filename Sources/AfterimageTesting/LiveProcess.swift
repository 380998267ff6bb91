import AfterimageCore
import Foundation
import Synchronization

/// A long-running child process for tests (e.g. `afterimage serve`): its stderr is read on a
/// Dispatch thread and can be awaited line by line; it can be killed with any signal.
public final class LiveProcess: Sendable {
    /// The child's process id.
    public let pid: Int32
    private let state = Mutex<(text: String, waiters: [(String, CheckedContinuation<String?, Never>)], closed: Bool)>(("", [], false))

    public init(_ executable: String, _ arguments: [String], environment: [String: String], directory: URL) throws {
        let errors = try Spawn.pipe(), null = try Spawn.null()
        defer { close(null) }
        do {
            pid = try Spawn.start(executable, arguments, environment: environment, directory: directory, stdin: null, stdout: null, stderr: errors.write)
        } catch {
            close(errors.read)
            close(errors.write)
            throw error
        }
        close(errors.write)
        let handle = errors.read
        DispatchQueue.global().async { [self] in
            while true {
                let chunk = readChunk(handle)
                let ready = state.withLock { state -> [(CheckedContinuation<String?, Never>, String?)] in
                    if chunk.isEmpty { state.closed = true } else { state.text += String(decoding: chunk, as: UTF8.self) }
                    var ready = [(CheckedContinuation<String?, Never>, String?)]()
                    state.waiters.removeAll { needle, continuation in
                        if let line = Self.line(containing: needle, in: state.text) { ready.append((continuation, line)); return true }
                        if state.closed { ready.append((continuation, nil)); return true }
                        return false
                    }
                    return ready
                }
                for (continuation, line) in ready { continuation.resume(returning: line) }
                if chunk.isEmpty {
                    // Closed stderr: the child is gone (or going); reap it.
                    close(handle)
                    _ = Spawn.wait(pid)
                    return
                }
            }
        }
    }

    /// The first stderr line containing `needle`, once it is written; nil if stderr closes first.
    public func line(containing needle: String) async -> String? {
        await withCheckedContinuation { continuation in
            let immediate = state.withLock { state -> String?? in
                if let line = Self.line(containing: needle, in: state.text) { return .some(line) }
                if state.closed { return .some(nil) }
                state.waiters.append((needle, continuation))
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    /// Everything written to stderr so far.
    public var stderr: String { state.withLock { $0.text } }

    /// A field of `/proc/PID/status` in KiB (e.g. `VmHWM`, the peak resident set), or nil.
    public func statusKiB(_ field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        let line = text.split(separator: "\n").first { $0.hasPrefix("\(field):") }
        return line?.split(separator: " ").dropFirst().first.flatMap { Int($0) }
    }

    public func kill(_ signal: Int32 = SIGKILL) {
        Foundation.kill(pid, signal)
    }

    static func line(containing needle: String, in text: String) -> String? {
        text.split(separator: "\n").first { $0.contains(needle) }.map(String.init)
    }
}
