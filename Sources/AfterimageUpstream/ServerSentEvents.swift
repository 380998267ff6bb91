import Foundation

/// One Server-Sent Event: its `event:` name, its `data:` lines joined with newlines, and the
/// exact bytes it arrived as (forwarded unchanged).
public struct ServerSentEvent: Sendable, Equatable {
    public var event: String?
    public var data: String
    public var raw: Data

    public init(event: String?, data: String, raw: Data) {
        self.event = event
        self.data = data
        self.raw = raw
    }

    /// Encodes an event (`event:` line, one `data:` line, blank line).
    public static func encode(event: String, data: Data) -> Data {
        var bytes = Data("event: \(event)\ndata: ".utf8)
        bytes.append(data)
        bytes.append(contentsOf: Array("\n\n".utf8))
        return bytes
    }
}

/// An incremental SSE parser (WHATWG rules for `event`/`data` fields, LF or CRLF line ends,
/// comments ignored). Holds at most one incomplete event; `maxEventBytes` bounds it.
public struct ServerSentEventParser: Sendable {
    private var buffer = Data()
    /// Bytes of `buffer` already searched for an event end (so big events are scanned once).
    private var scanned = 0
    let maxEventBytes: Int

    public init(maxEventBytes: Int = 256 << 20) {
        self.maxEventBytes = maxEventBytes
    }

    public struct TooLarge: Error, CustomStringConvertible {
        public var description: String { "an upstream event exceeded the size limit" }
    }

    /// Adds bytes and returns the events they complete.
    public mutating func feed(_ chunk: Data) throws -> [ServerSentEvent] {
        buffer.append(chunk)
        var events = [ServerSentEvent]()
        while let end = Self.eventEnd(in: buffer, from: max(0, scanned - 2)) {
            let raw = Data(buffer[buffer.startIndex..<end])
            buffer = Data(buffer[end...])
            scanned = 0
            if let event = Self.parse(raw) { events.append(event) }
        }
        scanned = buffer.count
        if buffer.count > maxEventBytes { throw TooLarge() }
        return events
    }

    /// What is left when the stream ends (an event without its blank line).
    public mutating func finish() -> ServerSentEvent? {
        defer { buffer.removeAll() }
        return buffer.isEmpty ? nil : Self.parse(buffer)
    }

    /// The index just past the blank line that ends the first event, searching from `offset`.
    static func eventEnd(in data: Data, from offset: Int) -> Data.Index? {
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> Data.Index? in
            var i = offset
            while i < bytes.count {
                if bytes[i] == 0x0A {
                    if i + 1 < bytes.count, bytes[i + 1] == 0x0A { return data.startIndex + i + 2 }
                    if i + 2 < bytes.count, bytes[i + 1] == 0x0D, bytes[i + 2] == 0x0A { return data.startIndex + i + 3 }
                }
                i += 1
            }
            return nil
        }
    }

    static func parse(_ raw: Data) -> ServerSentEvent? {
        var name: String?
        var data = [String]()
        for line in String(decoding: raw, as: UTF8.self).split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            if line.hasPrefix(":") { continue }
            let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let field = String(parts[0])
            var value = parts.count > 1 ? String(parts[1]) : ""
            if value.hasPrefix(" ") { value.removeFirst() }
            switch field {
            case "event": name = value
            case "data": data.append(value)
            default: continue
            }
        }
        guard name != nil || !data.isEmpty else { return nil }
        return ServerSentEvent(event: name, data: data.joined(separator: "\n"), raw: raw)
    }
}
