import Foundation

/// Dates as text, UTC: ISO 8601 formatting for rows, reports and exports, and the parsing of
/// key expiry dates.
public enum DateText {
    /// A key expiry: `YYYY-MM-DD` means the key works through that whole UTC day (it expires at
    /// the next midnight UTC); an ISO 8601 timestamp is taken as is.
    public static func parse(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let day = DateFormatter()
        day.locale = Locale(identifier: "en_US_POSIX")
        day.timeZone = TimeZone(identifier: "UTC")
        day.dateFormat = "yyyy-MM-dd"
        if trimmed.count == 10, let start = day.date(from: trimmed) {
            return start.addingTimeInterval(86_400)
        }
        let iso = ISO8601DateFormatter()
        if let date = iso.date(from: trimmed) { return date }
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return iso.date(from: trimmed)
    }

    /// ISO 8601 text of a date, UTC (a value-type format style: no formatter built per call).
    public static func format(_ date: Date) -> String {
        date.formatted(seconds)
    }

    /// ISO 8601 with milliseconds, UTC.
    public static func formatPrecise(_ date: Date) -> String {
        date.formatted(milliseconds)
    }

    static let seconds = Date.ISO8601FormatStyle()
    static let milliseconds = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}

extension VirtualKey {
    /// `active`, `revoked` or `expired` at `now`.
    public func status(at now: Date = Date()) -> String {
        if revokedAt != nil { return "revoked" }
        if let expiresAt, expiresAt <= now { return "expired" }
        return "active"
    }

    /// The key as shown by the admin API and the CLI's `--json` (never the secret or its hash).
    public var publicJSON: JSONValue {
        func date(_ value: Date?) -> JSONValue { value.map { .string(DateText.format($0)) } ?? .null }
        var object: [String: JSONValue] = [
            "id": .string(id),
            "name": .string(name),
            "namespace": .string(namespace),
            "models": allowedModels.map { .array($0.map(JSONValue.string)) } ?? .null,
            "prefix": .string(prefix),
            "status": .string(status()),
            "created_at": date(createdAt),
            "expires_at": date(expiresAt),
            "revoked_at": date(revokedAt),
            "rotated_at": date(rotatedAt),
        ]
        object.merge(limits.json.objectValue ?? [:]) { a, _ in a }
        return .object(object)
    }
}
