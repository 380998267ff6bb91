import AfterimageCore
import Foundation

/// One alert: its event, the key that makes it unique (sent once per key), a one-line summary and
/// its fields.
public struct Alert: Sendable, Equatable {
    public var event: AlertEvent
    /// Scope, period, threshold… — what makes it the same alert (`AlertClaims`).
    public var dedupKey: String
    public var summary: String
    public var fields: [String: JSONValue]
    public var createdAt: Date

    public init(event: AlertEvent, dedupKey: String, summary: String, fields: [String: JSONValue], createdAt: Date = Date()) {
        self.event = event
        self.dedupKey = dedupKey
        self.summary = summary
        self.fields = fields
        self.createdAt = createdAt
    }

    /// The alert as kept with its claim (`AlertClaims`): event, deduplication key, summary, fields
    /// and time, as JSON.
    public var storedText: String {
        String(decoding: JSONWriter.data(.object([
            "event": .string(event.rawValue), "dedup_key": .string(dedupKey), "summary": .string(summary),
            "fields": .object(fields), "created_at": .string(DateText.format(createdAt)),
        ])), as: UTF8.self)
    }

    /// The alert `storedText` wrote, or nil for anything else.
    public init?(storedText: String) {
        guard let object = (try? JSONParser.parse(Data(storedText.utf8)))?.objectValue,
              let event = object["event"]?.stringValue.flatMap(AlertEvent.init(rawValue:)),
              let dedupKey = object["dedup_key"]?.stringValue, let summary = object["summary"]?.stringValue,
              let fields = object["fields"]?.objectValue,
              let createdAt = object["created_at"]?.stringValue.flatMap(DateText.parse) else { return nil }
        self.init(event: event, dedupKey: dedupKey, summary: summary, fields: fields, createdAt: createdAt)
    }

    /// The body a webhook receives: `{"id", "event", "summary", "created_at", "data"}`, or for
    /// Slack `{"text", "blocks"}` with the same facts.
    public func body(format: AlertSettings.Webhook.Format) -> Data {
        switch format {
        case .json:
            return JSONWriter.data(.object([
                "id": .string(Data(dedupKey.utf8).sha256Hex.prefix(32).description),
                "event": .string(event.rawValue),
                "summary": .string(summary),
                "created_at": .string(DateText.format(createdAt)),
                "data": .object(fields),
            ]))
        case .slack:
            let facts = fields.sorted { $0.key < $1.key }.map { key, value in
                "*\(key)*: \(value.stringValue ?? String(decoding: JSONWriter.data(value), as: UTF8.self))"
            }
            return JSONWriter.data(.object([
                "text": .string("Afterimage — \(summary)"),
                "blocks": .array([
                    .object(["type": "section", "text": .object(["type": "mrkdwn", "text": .string("*Afterimage* — \(summary)")])]),
                    .object(["type": "section", "text": .object(["type": "mrkdwn", "text": .string(facts.joined(separator: "\n"))])]),
                ]),
            ]))
        }
    }
}
