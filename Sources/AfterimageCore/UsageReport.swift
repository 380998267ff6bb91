import Foundation

/// Dimensions a usage report can be grouped by.
public enum UsageDimension: String, Sendable, CaseIterable {
    case key, namespace, model, day, endpoint

    /// Parses `key,namespace,…`; throws naming the bad value.
    public static func parseList(_ text: String) throws -> [UsageDimension] {
        var list = [UsageDimension]()
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            guard let dimension = UsageDimension(rawValue: part) else {
                throw AfterimageError.invalidPayload("'group_by' values must be key, namespace, model, day or endpoint; got '\(part)'.", param: "group_by")
            }
            if !list.contains(dimension) { list.append(dimension) }
        }
        return list
    }
}

/// Counters of a set of ledger rows.
public struct UsageTotals: Sendable, Equatable {
    public var requests = 0
    public var errors = 0
    public var directHits = 0
    public var semanticHits = 0
    public var images = 0
    public var textInputTokens = 0
    public var imageInputTokens = 0
    public var imageOutputTokens = 0
    public var textOutputTokens = 0
    /// Rows whose cost is null (no price for their model): not in `cost`.
    public var unpricedRequests = 0
    public var cost = Money.zero
    public var saved = Money.zero

    public init() {}

    /// Hits over successful requests; nil without any.
    public var hitRate: Double? {
        let answered = requests - errors
        return answered == 0 ? nil : Double(directHits + semanticHits) / Double(answered)
    }

    public var costWithoutCache: Money { cost + saved }

    /// The counters in report order, as JSON values (money as 6-decimal strings).
    public var fields: [(String, JSONValue)] {
        [
            ("requests", .integer(Int64(requests))), ("errors", .integer(Int64(errors))),
            ("direct_hits", .integer(Int64(directHits))), ("semantic_hits", .integer(Int64(semanticHits))),
            ("hit_rate", hitRate.map { .number(($0 * 10_000).rounded() / 10_000) } ?? .null),
            ("images", .integer(Int64(images))), ("text_input_tokens", .integer(Int64(textInputTokens))),
            ("image_input_tokens", .integer(Int64(imageInputTokens))), ("image_output_tokens", .integer(Int64(imageOutputTokens))),
            ("text_output_tokens", .integer(Int64(textOutputTokens))), ("unpriced_requests", .integer(Int64(unpricedRequests))),
            ("cost_usd", .string(cost.usdString)), ("saved_usd", .string(saved.usdString)),
            ("cost_without_cache_usd", .string(costWithoutCache.usdString)),
        ]
    }
}

/// `usage report`: counters per group over a half-open UTC time range, and their total.
public struct UsageReport: Sendable, Equatable {
    public struct Row: Sendable, Equatable {
        /// The grouped dimensions' values (`key_id` and `key_name` for `key`).
        public var group: [(String, String?)]
        public var totals: UsageTotals

        public init(group: [(String, String?)], totals: UsageTotals) {
            self.group = group
            self.totals = totals
        }

        public static func == (a: Row, b: Row) -> Bool {
            a.totals == b.totals && a.group.map(\.0) == b.group.map(\.0) && a.group.map(\.1) == b.group.map(\.1)
        }
    }

    public var from: Date
    public var to: Date
    public var groupBy: [UsageDimension]
    public var rows: [Row]
    public var total: UsageTotals

    public init(from: Date, to: Date, groupBy: [UsageDimension], rows: [Row], total: UsageTotals) {
        self.from = from
        self.to = to
        self.groupBy = groupBy
        self.rows = rows
        self.total = total
    }

    /// The column names of the CSV and table forms.
    public var columns: [String] { Self.groupColumns(groupBy) + UsageTotals().fields.map(\.0) }

    static func groupColumns(_ groupBy: [UsageDimension]) -> [String] {
        groupBy.flatMap { $0 == .key ? ["key_id", "key_name"] : [$0.rawValue] }
    }

    public var json: JSONValue {
        func object(_ group: [(String, String?)], _ totals: UsageTotals) -> JSONValue {
            var object = [String: JSONValue]()
            for (name, value) in group { object[name] = value.map(JSONValue.string) ?? .null }
            for (name, value) in totals.fields { object[name] = value }
            return .object(object)
        }
        return .object([
            "object": "usage.report",
            "from": .string(KeyExpiry.format(from)), "to": .string(KeyExpiry.format(to)),
            "group_by": .array(groupBy.map { .string($0.rawValue) }),
            "rows": .array(rows.map { object($0.group, $0.totals) }),
            "total": object([], total),
        ])
    }

    /// RFC 4180 CSV: a header, one line per row, then a `total` line.
    public var csv: String {
        var lines = [CSV.line(columns)]
        for row in rows {
            lines.append(CSV.line(row.group.map { $0.1 ?? "" } + row.totals.fields.map { Self.text($0.1) }))
        }
        let groupCount = Self.groupColumns(groupBy).count
        let label = groupCount == 0 ? [] : ["total"] + Array(repeating: "", count: groupCount - 1)
        lines.append(CSV.line(label + total.fields.map { Self.text($0.1) }))
        return lines.joined()
    }

    static func text(_ value: JSONValue) -> String {
        switch value {
        case .null: return ""
        case .string(let s): return s
        case .integer(let i): return String(i)
        case .number(let d): return String(d)
        case .bool(let b): return String(b)
        default: return ""
        }
    }
}

/// RFC 4180 CSV fields and lines.
public enum CSV {
    /// Quotes a field when it holds a comma, quote, CR or LF (quotes doubled).
    public static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// One record, CRLF-terminated.
    public static func line(_ fields: [String]) -> String {
        fields.map(field).joined(separator: ",") + "\r\n"
    }
}

/// Report time bounds: `YYYY-MM-DD` is midnight UTC; ISO 8601 timestamps are taken as is.
public enum ReportTime {
    public static func parse(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.count == 10, let nextDay = KeyExpiry.parse(trimmed) { return nextDay.addingTimeInterval(-86_400) }
        return KeyExpiry.parse(trimmed)
    }
}
