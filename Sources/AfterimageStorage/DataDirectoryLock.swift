import Foundation

import Glibc

/// One server per data directory: an exclusive `flock` on `DATA_DIR/.lock`, held for the life of
/// the process (the kernel drops it when the process dies, however it dies). A second `serve`
/// would double every budget and rate limit, which live in the first one's memory.
public final class DataDirectoryLock: Sendable {
    /// Another process holds the lock.
    public struct Held: Error, CustomStringConvertible {
        public let path: String
        public let holder: String
        public var description: String { "another afterimage server (\(holder)) is already using this data directory (\(path))" }
    }

    let fd: Int32
    public let path: String

    /// Takes the lock or throws `Held` naming the other process (its pid as written in the file).
    public init(dataDirectory: URL) throws {
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        // Stored properties are set only once the lock is held: a class whose properties are all
        // set runs `deinit` when its initializer throws, and a second `close` of a number another
        // thread may already have been given (a NIO socket) is how fds get corrupted.
        let path = dataDirectory.appendingPathComponent(".lock").path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DurableFile.posixError("open", URL(fileURLWithPath: path)) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let text = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            throw Held(path: path, holder: text.isEmpty ? "unknown pid" : "pid \(text.prefix(32))")
        }
        self.path = path
        self.fd = fd
        ftruncate(fd, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { Glibc.write(fd, $0, strlen($0)) }
    }

    /// Releases the lock (at shutdown; also done when the object goes away).
    public func release() {
        flock(fd, LOCK_UN)
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
