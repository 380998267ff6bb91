import AfterimageCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Drives the throughput series with `wrk` (Debian's `wrk`, a C load generator on epoll) when it
/// is installed: an in-process Swift client spends as much CPU per request as the gateway does on
/// a hit, so on 2 cores it would measure the client as much as the server.
struct WrkLoad {
    /// What one `wrk` run reported.
    struct Result: Sendable {
        var requestsPerSecond: Double
        var p50: String
        var p99: String
        /// Answers that were not 2xx/3xx (a hit series must have none).
        var failures: Int
    }

    /// `wrk` on PATH, or nil.
    static func executable() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/wrk"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// POSTs `body` to `url` from `connections` connections on `threads` threads for `seconds`.
    static func run(
        _ wrk: String, url: String, body: String, secret: String, connections: Int, threads: Int, seconds: Int
    ) throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("afterimage-wrk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = directory.appendingPathComponent("post.lua")
        try """
            wrk.method = "POST"
            wrk.body = \(luaString(body))
            wrk.headers["Content-Type"] = "application/json"
            wrk.headers["Authorization"] = \(luaString("Bearer " + secret))
            """.write(to: script, atomically: true, encoding: .utf8)
        let outputPath = directory.appendingPathComponent("wrk.out").path
        let output = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw Spawn.Failure(description: "cannot create \(outputPath)") }
        let null = try Spawn.null()
        defer { close(null) }
        let pid = try Spawn.start(
            wrk, ["-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--latency", "-s", script.path, url],
            environment: nil, directory: nil, stdin: null, stdout: output, stderr: output
        )
        close(output)
        let status = Spawn.wait(pid)
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard status == 0, let result = parse(text) else {
            throw Spawn.Failure(description: "wrk exited with \(status): \(text.prefix(2_000))")
        }
        return result
    }

    /// Reads `Requests/sec:`, the 50% and 99% latency lines and the non-2xx count of wrk's report.
    static func parse(_ text: String) -> Result? {
        var result = Result(requestsPerSecond: 0, p50: "?", p99: "?", failures: 0)
        var sawRate = false
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first else { continue }
            switch first {
            case "Requests/sec:" where fields.count >= 2:
                guard let rate = Double(fields[1]) else { return nil }
                result.requestsPerSecond = rate
                sawRate = true
            case "50%" where fields.count >= 2: result.p50 = String(fields[1])
            case "99%" where fields.count >= 2: result.p99 = String(fields[1])
            case "Non-2xx" where fields.count >= 5: result.failures = Int(fields[4]) ?? 0
            default: break
            }
        }
        return sawRate ? result : nil
    }

    /// A Lua long string literal that no content can close early.
    static func luaString(_ text: String) -> String {
        var level = 0
        while text.contains("]" + String(repeating: "=", count: level) + "]") { level += 1 }
        let equals = String(repeating: "=", count: level)
        return "[\(equals)[\(text)]\(equals)]"
    }
}
