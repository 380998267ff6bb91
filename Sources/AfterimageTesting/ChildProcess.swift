import Foundation

/// Runs a program to completion for tests. All blocking work (pipe reads, waiting for exit) happens
/// on a Dispatch thread, never on Swift's cooperative pool: on a 2-core machine that pool has two
/// threads, and blocking them would starve the very servers the program talks to.
public enum ChildProcess {
    public struct Outcome: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        input: Data? = nil, directory: URL? = nil
    ) async throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe(), stdin = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = stdin
        try process.run()
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                if let input { stdin.fileHandleForWriting.write(input) }
                try? stdin.fileHandleForWriting.close()
                let group = DispatchGroup()
                let errorData = Box()
                group.enter()
                DispatchQueue.global().async {
                    errorData.data = err.fileHandleForReading.readDataToEndOfFile()
                    group.leave()
                }
                let outputData = out.fileHandleForReading.readDataToEndOfFile()
                group.wait()
                process.waitUntilExit()
                continuation.resume(returning: Outcome(
                    status: process.terminationStatus,
                    stdout: String(decoding: outputData, as: UTF8.self),
                    stderr: String(decoding: errorData.data, as: UTF8.self)
                ))
            }
        }
    }
}

/// Holds the stderr bytes between two Dispatch blocks (ordered by the DispatchGroup).
private final class Box: @unchecked Sendable {
    var data = Data()
}
