import AfterimageCore
import Logging

/// Wraps a `LogHandler` so that no log line can exceed `maxLineBytes` (4 KiB by default) or span
/// two lines, whatever a client or an upstream put into its message or metadata: the message and
/// every metadata value are escaped (`LogText.bounded`) and cut to a byte budget, and entries past
/// the budget are dropped with one `truncated` marker.
public struct BoundedLogHandler: LogHandler {
    /// The line cap the budgets below add up to (room is left for timestamp, level and label).
    public static let maxLineBytes = 4096
    static let messageBytes = 1536
    static let valueBytes = 512
    static let keyBytes = 64
    static let metadataBytes = 2048

    /// The handler that writes; it never holds metadata of its own, so everything it prints went
    /// through the bounds here.
    private var inner: any LogHandler
    public var metadata = Logger.Metadata()
    public var metadataProvider: Logger.MetadataProvider?

    public init(_ inner: any LogHandler) {
        var inner = inner
        self.metadata = inner.metadata
        self.metadataProvider = inner.metadataProvider
        inner.metadata = [:]
        inner.metadataProvider = nil
        self.inner = inner
    }

    public var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let own = event.metadata { merged.merge(own) { _, new in new } }
        var event = event
        event.message = Logger.Message(stringLiteral: Self.bounded(event.message.description, maxBytes: Self.messageBytes))
        event.metadata = merged.isEmpty ? nil : Self.bounded(merged)
        inner.log(event: event)
    }

    /// Escaped, then cut to `maxBytes` UTF-8 bytes.
    static func bounded(_ text: String, maxBytes: Int) -> String {
        let escaped = LogText.bounded(text, maxBytes)
        guard escaped.utf8.count > maxBytes else { return escaped }
        return LogText.prefix(escaped, maxBytes: maxBytes - 3) + "…"
    }

    /// Every value flattened to a bounded string, sorted by key, within the metadata budget.
    static func bounded(_ metadata: Logger.Metadata) -> Logger.Metadata {
        var out = Logger.Metadata()
        var used = 0
        for key in metadata.keys.sorted() {
            let boundedKey = bounded(key, maxBytes: keyBytes)
            let value = bounded(metadata[key]?.description ?? "", maxBytes: valueBytes)
            let cost = boundedKey.utf8.count + value.utf8.count + 2
            if used + cost > metadataBytes {
                out["truncated"] = .string("\(metadata.count - out.count) entries")
                break
            }
            used += cost
            out[boundedKey] = .string(value)
        }
        return out
    }
}
