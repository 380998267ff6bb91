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
}

/// Report time bounds: `YYYY-MM-DD` is midnight UTC; ISO 8601 timestamps are taken as is.
public enum ReportTime {
    public static func parse(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.count == 10, let nextDay = DateText.parse(trimmed) { return nextDay.addingTimeInterval(-86_400) }
        return DateText.parse(trimmed)
    }
}
