import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Why a graph snapshot was not used (it is then rebuilt from the rows).
public enum GraphSnapshotError: Error, CustomStringConvertible, Equatable {
    case io(String)
    case notASnapshot
    case unsupportedVersion(UInt32)
    /// Written for another embedder, dimension or graph shape.
    case mismatch(String)
    case truncated
    case checksum
    /// The checksum holds but the contents break an invariant (a link out of range, a duplicate id…).
    case corrupt(String)

    public var description: String {
        switch self {
        case .io(let problem): "cannot read or write the snapshot: \(problem)"
        case .notASnapshot: "not a graph snapshot (wrong magic)"
        case .unsupportedVersion(let version): "snapshot format version \(version) is not supported (this build reads \(GraphSnapshot.version))"
        case .mismatch(let what): "written for another index: \(what)"
        case .truncated: "the file ends early"
        case .checksum: "checksum mismatch (the file is damaged)"
        case .corrupt(let what): "inconsistent contents: \(what)"
        }
    }
}

/// Sequential writes to a file descriptor with a running SHA-256 of everything written.
struct SnapshotWriter {
    let descriptor: Int32
    var hasher = SHA256()
    /// Bulk arrays go out in slices of this size (bounded time per `write` call).
    static let chunk = 8 << 20

    init(descriptor: Int32) { self.descriptor = descriptor }

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<min(bytes.count, offset + Self.chunk)])
            hasher.update(bufferPointer: slice)
            var written = 0
            while written < slice.count {
                let result = Glibc.write(descriptor, slice.baseAddress! + written, slice.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    throw GraphSnapshotError.io(String(cString: strerror(errno)))
                }
                written += result
            }
            offset += slice.count
        }
    }

    mutating func write<T: FixedWidthInteger>(_ value: T) throws {
        try withUnsafeBytes(of: value.littleEndian) { try write($0) }
    }

    mutating func write<T>(array: [T]) throws {
        try array.withUnsafeBytes { try write($0) }
    }

    mutating func write(string: String) throws {
        let bytes = Array(string.utf8)
        try write(UInt32(bytes.count))
        try write(array: bytes)
    }

    /// Writes the digest of everything so far (not itself hashed).
    mutating func finish() throws {
        let digest = Array(hasher.finalize())
        var plain = SnapshotWriter(descriptor: descriptor)
        try plain.write(array: digest)
    }
}

/// Sequential reads with a running SHA-256, never past the file's size: every count read from the
/// file is checked against the bytes left before anything is allocated for it.
struct SnapshotReader {
    let descriptor: Int32
    var hasher = SHA256()
    /// Bytes not yet read.
    private(set) var remaining: Int

    init(descriptor: Int32, size: Int) {
        self.descriptor = descriptor
        self.remaining = size
    }

    mutating func read(into bytes: UnsafeMutableRawBufferPointer, hashed: Bool = true) throws {
        guard bytes.count <= remaining else { throw GraphSnapshotError.truncated }
        var offset = 0
        while offset < bytes.count {
            let result = Glibc.read(descriptor, bytes.baseAddress! + offset, min(bytes.count - offset, SnapshotWriter.chunk))
            if result < 0 {
                if errno == EINTR { continue }
                throw GraphSnapshotError.io(String(cString: strerror(errno)))
            }
            if result == 0 { throw GraphSnapshotError.truncated }
            if hashed { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + result])) }
            offset += result
        }
        remaining -= bytes.count
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        var value = T.zero
        try withUnsafeMutableBytes(of: &value) { try read(into: $0) }
        return T(littleEndian: value)
    }

    /// `count` elements, refused before allocation when the file cannot hold them.
    mutating func read<T: BitwiseCopyable>(array _: T.Type, count: Int) throws -> [T] {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard count >= 0, !overflow, bytes <= remaining else { throw GraphSnapshotError.truncated }
        // Codes and links are searched at random: on huge pages (`HugePages`) like a built graph's.
        return try HugePages.array(count: count) { buffer in try read(into: UnsafeMutableRawBufferPointer(buffer)) }
    }

    mutating func readString(maxBytes: Int) throws -> String {
        let length = Int(try read(UInt32.self))
        guard length <= maxBytes else { throw GraphSnapshotError.corrupt("a name of \(length) bytes (at most \(maxBytes))") }
        let bytes = try read(array: UInt8.self, count: length)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw GraphSnapshotError.corrupt("a name that is not UTF-8") }
        return text
    }

    /// Reads the trailing digest and compares it with what was read; nothing may follow it.
    mutating func verifyDigest() throws {
        guard remaining == SHA256.byteCount else { throw remaining < SHA256.byteCount ? GraphSnapshotError.truncated : GraphSnapshotError.corrupt("bytes after the graph") }
        var stored = [UInt8](repeating: 0, count: SHA256.byteCount)
        try stored.withUnsafeMutableBytes { try read(into: $0, hashed: false) }
        guard Array(hasher.finalize()) == stored else { throw GraphSnapshotError.checksum }
    }
}
