import Foundation

import Glibc

/// Crash-safe file writes: temporary file, fsync, atomic rename, fsync of the directory.
public enum DurableFile {
    /// Writes `data` to `url` so that after a crash the file is either absent or complete.
    public static func write(_ data: Data, to url: URL, permissions: mode_t = 0o644) throws {
        let directory = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, permissions)
        guard fd >= 0 else { throw posixError("open", temporary) }
        var closed = false
        var renamed = false
        defer {
            if !closed { close(fd) }
            // Every failure path removes the temporary file.
            if !renamed { unlink(temporary.path) }
        }
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw posixError("write", temporary)
                }
                offset += written
            }
        }
        guard fsync(fd) == 0 else { throw posixError("fsync", temporary) }
        close(fd)
        closed = true
        guard rename(temporary.path, url.path) == 0 else { throw posixError("rename", url) }
        renamed = true
        let directoryFD = open(directory.path, O_RDONLY)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Deletes temporary files a crash left under `directory` (`.NAME.UUID.tmp`, any depth);
    /// returns how many. Call at start, before anything writes there.
    @discardableResult
    public static func sweepTemporaryFiles(under directory: URL) -> Int {
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else { return 0 }
        var removed = 0
        for case let url as URL in walker where url.lastPathComponent.hasPrefix(".") && url.pathExtension == "tmp" {
            if (try? FileManager.default.removeItem(at: url)) != nil { removed += 1 }
        }
        return removed
    }

    static func posixError(_ operation: String, _ url: URL) -> any Error {
        let code = errno
        return NSError(
            domain: NSPOSIXErrorDomain, code: Int(code),
            userInfo: [NSLocalizedDescriptionKey: "\(operation) \(url.path): \(String(cString: strerror(code)))"]
        )
    }
}
