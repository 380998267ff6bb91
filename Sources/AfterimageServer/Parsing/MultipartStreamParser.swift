import AfterimageCore
import Foundation

/// A streaming `multipart/form-data` parser (RFC 7578 / RFC 2046) for client bodies.
///
/// Written for hostile input: every byte sequence either parses or throws `invalidPayload`; no
/// input can trap (MultipartKit 4.7's parser indexes a 128-entry table with any header byte and
/// traps on a byte ≥ 0x80). Memory is bounded: besides the part bodies handed to `onBody`, it
/// keeps at most one delimiter's length of body bytes and one part's header block.
final class MultipartStreamParser {
    /// Longest boundary RFC 2046 allows.
    static let maxBoundaryBytes = 70
    /// Transport padding allowed after a delimiter (spaces and tabs before its CRLF).
    static let maxPaddingBytes = 64

    private enum State {
        /// Before the first delimiter: bytes are discarded.
        case preamble
        /// Right after a delimiter: `--` closes, else optional padding and CRLF open a part.
        case afterDelimiter
        /// Reading one part's header lines up to the empty line.
        case headers
        /// Reading one part's body up to the next delimiter.
        case body
        /// After the closing delimiter: bytes are discarded.
        case epilogue
    }

    /// `CRLF--boundary`: what ends a body (the stream start counts as a preceding CRLF).
    private let delimiter: [UInt8]
    private let maxHeaderBytes: Int
    private var state = State.preamble
    private var buffer: [UInt8]
    private var start = 0
    private var headerBytes = 0

    /// One header line of the current part (name as sent, value with surrounding blanks trimmed).
    var onHeader: (String, String) -> Void = { _, _ in }
    /// Body bytes of the current part, in order, possibly in several calls.
    var onBody: (ArraySlice<UInt8>) -> Void = { _ in }
    /// The current part's body has ended.
    var onPartComplete: () -> Void = {}

    /// Whether the closing delimiter has been read.
    var isComplete: Bool { if case .epilogue = state { return true } else { return false } }

    /// - Throws: `invalidPayload` for an empty boundary, one longer than 70 bytes, or one with
    ///   characters outside printable ASCII.
    init(boundary: String, maxHeaderBytes: Int) throws {
        let bytes = Array(boundary.utf8)
        guard !bytes.isEmpty, bytes.count <= Self.maxBoundaryBytes, bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            throw AfterimageError.invalidPayload("The multipart boundary must be 1 to \(Self.maxBoundaryBytes) printable ASCII characters.")
        }
        delimiter = Array("\r\n--".utf8) + bytes
        self.maxHeaderBytes = maxHeaderBytes
        buffer = Array("\r\n".utf8)
    }

    /// Parses the next chunk of the body.
    func execute<Bytes: Sequence>(_ chunk: Bytes) throws where Bytes.Element == UInt8 {
        buffer.append(contentsOf: chunk)
        try process()
        if start > 0, start >= buffer.count / 2 || start > 1 << 16 {
            buffer.removeFirst(start)
            start = 0
        }
    }

    /// The body has ended: throws when it ended before the closing delimiter.
    func finish() throws {
        guard isComplete else {
            throw AfterimageError.invalidPayload("Malformed multipart body: it ends before the closing boundary.")
        }
    }

    private func process() throws {
        while true {
            switch state {
            case .preamble, .body:
                guard scanBody(emit: state == .body) else { return }
                if state == .body { onPartComplete() }
                state = .afterDelimiter
            case .afterDelimiter:
                guard let next = try readAfterDelimiter() else { return }
                state = next
                headerBytes = 0
            case .headers:
                guard let line = try readLine() else { return }
                if line.isEmpty {
                    state = .body
                } else {
                    try header(line)
                }
            case .epilogue:
                start = buffer.count
                return
            }
        }
    }

    /// Finds the next delimiter: hands the bytes before it to `onBody` (when `emit`) and returns
    /// true, or hands over all but a possible delimiter prefix and returns false.
    private func scanBody(emit: Bool) -> Bool {
        let found: Int? = buffer.withUnsafeBufferPointer { bytes in
            let count = bytes.count
            let needle = delimiter.count
            var index = start
            while index + needle <= count {
                guard bytes[index] == 0x0D else {
                    // Jump to the next CR.
                    guard let base = bytes.baseAddress,
                          let hit = memchr(base + index, 0x0D, count - index)
                    else { return nil }
                    index = UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - base
                    continue
                }
                var matched = true
                for offset in 1..<needle where bytes[index + offset] != delimiter[offset] {
                    matched = false
                    break
                }
                if matched { return index }
                index += 1
            }
            return nil
        }
        if let found {
            if emit, found > start { onBody(buffer[start..<found]) }
            start = found + delimiter.count
            return true
        }
        // Keep back what could be the start of a delimiter split across chunks.
        let keep = min(buffer.count - start, delimiter.count - 1)
        let end = buffer.count - keep
        if emit, end > start { onBody(buffer[start..<end]) }
        start = end
        return false
    }

    /// After a delimiter: `--` closes the body, else padding then CRLF starts a part's headers.
    private func readAfterDelimiter() throws -> State? {
        let available = buffer.count - start
        guard available >= 2 else { return nil }
        if buffer[start] == UInt8(ascii: "-"), buffer[start + 1] == UInt8(ascii: "-") {
            start += 2
            return .epilogue
        }
        var index = start
        while index < buffer.count, buffer[index] == 0x20 || buffer[index] == 0x09 {
            index += 1
            if index - start > Self.maxPaddingBytes { throw Self.malformed("too much padding after a boundary") }
        }
        guard index + 2 <= buffer.count else { return nil }
        guard buffer[index] == 0x0D, buffer[index + 1] == 0x0A else {
            throw Self.malformed("a boundary is not followed by a line break")
        }
        start = index + 2
        return .headers
    }

    /// One CRLF-terminated header line (without the CRLF), or nil until it is complete.
    private func readLine() throws -> ArraySlice<UInt8>? {
        var index = start
        while index + 1 < buffer.count {
            if buffer[index] == 0x0D {
                guard buffer[index + 1] == 0x0A else { throw Self.malformed("a header line has a bare CR") }
                let line = buffer[start..<index]
                headerBytes += index - start + 2
                start = index + 2
                return line
            }
            index += 1
        }
        if headerBytes + (buffer.count - start) > maxHeaderBytes {
            throw AfterimageError.invalidPayload("A multipart part's headers exceed \(maxHeaderBytes) bytes.")
        }
        return nil
    }

    private func header(_ line: ArraySlice<UInt8>) throws {
        if headerBytes > maxHeaderBytes {
            throw AfterimageError.invalidPayload("A multipart part's headers exceed \(maxHeaderBytes) bytes.")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else {
            throw Self.malformed("a part header has no name")
        }
        let name = line[line.startIndex..<colon]
        guard name.allSatisfy(Self.isTokenByte) else { throw Self.malformed("a part header name has a character not allowed there") }
        var value = line[(colon + 1)...]
        while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
        while let last = value.last, last == 0x20 || last == 0x09 { value = value.dropLast() }
        onHeader(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    /// RFC 9110 `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    private static func malformed(_ reason: String) -> AfterimageError {
        .invalidPayload("Malformed multipart body: \(reason).")
    }
}
