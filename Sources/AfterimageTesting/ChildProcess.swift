import AfterimageCore
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
        input inputData: Data? = nil, directory: URL? = nil
    ) async throws -> Outcome {
        let output = try Spawn.pipe(), errors = try Spawn.pipe(), toChild = try Spawn.pipe()
        let pid: pid_t
        do {
            pid = try Spawn.start(executable, arguments, environment: environment, directory: directory, stdin: toChild.read, stdout: output.write, stderr: errors.write)
        } catch {
            for fd in [output.read, output.write, errors.read, errors.write, toChild.read, toChild.write] { close(fd) }
            throw error
        }
        // The child holds its own copies now: closing ours lets end-of-file arrive when it exits.
        for fd in [output.write, errors.write, toChild.read] { close(fd) }
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                if let inputData { writeAll(inputData, to: toChild.write) }
                close(toChild.write)
                let group = DispatchGroup()
                let errorData = Box()
                group.enter()
                DispatchQueue.global().async {
                    errorData.data = readAll(errors.read)
                    close(errors.read)
                    group.leave()
                }
                let outputData = readAll(output.read)
                close(output.read)
                group.wait()
                let status = Spawn.wait(pid)
                continuation.resume(returning: Outcome(
                    status: status,
                    stdout: String(decoding: outputData, as: UTF8.self),
                    stderr: String(decoding: errorData.data, as: UTF8.self)
                ))
            }
        }
    }
}

/// Reads a descriptor to its end, retrying reads a signal interrupted (Foundation's
/// `readDataToEndOfFile` traps on EINTR, and a test process gets many SIGCHLDs).
private func readAll(_ fd: Int32) -> Data {
    var data = Data()
    while true {
        let chunk = readChunk(fd)
        if chunk.isEmpty { return data }
        data.append(chunk)
    }
}

/// The next bytes available on a descriptor (blocking), empty at end of file or on an error
/// other than EINTR.
func readChunk(_ fd: Int32) -> Data {
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count > 0 { return Data(buffer[0..<count]) }
        if count == 0 || errno != EINTR { return Data() }
    }
}

/// Writes all of `data`, retrying after EINTR; stops at another error (the child closed its input).
private func writeAll(_ data: Data, to fd: Int32) {
    data.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let count = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if count > 0 {
                offset += count
            } else if count < 0, errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}

/// Holds the stderr bytes between two Dispatch blocks (ordered by the DispatchGroup).
private final class Box: @unchecked Sendable {
    var data = Data()
}
