import AfterimageCore
import Foundation
import GRDB

/// Reports and exports over `usage_ledger`, on a half-open `[from, to)` range.
extension SQLiteUsageLedger {
    static func expression(_ dimension: UsageDimension) -> [(name: String, sql: String)] {
        switch dimension {
        case .key: return [("key_id", "key_id"), ("key_name", "MAX(key_name)")]
        case .namespace: return [("namespace", "namespace")]
        case .model: return [("model", "COALESCE(model_used, model_requested)")]
        case .day: return [("day", "substr(created_at, 1, 10)")]
        case .endpoint: return [("endpoint", "endpoint")]
        }
    }

    static let aggregates = """
        COUNT(*) AS requests, COALESCE(SUM(status >= 400), 0) AS errors,
        COALESCE(SUM(cache = 'direct'), 0) AS direct_hits, COALESCE(SUM(cache = 'semantic'), 0) AS semantic_hits,
        COALESCE(SUM(images), 0) AS images, COALESCE(SUM(text_input_tokens), 0) AS text_input_tokens,
        COALESCE(SUM(image_input_tokens), 0) AS image_input_tokens, COALESCE(SUM(image_output_tokens), 0) AS image_output_tokens,
        COALESCE(SUM(text_output_tokens), 0) AS text_output_tokens,
        COALESCE(SUM(cost_nanos IS NULL AND status < 400), 0) AS unpriced,
        COALESCE(SUM(cost_nanos), 0) AS cost_nanos, COALESCE(SUM(saved_nanos), 0) AS saved_nanos
        """

    static func totals(_ row: Row) -> UsageTotals {
        var totals = UsageTotals()
        totals.requests = row["requests"]
        totals.errors = row["errors"]
        totals.directHits = row["direct_hits"]
        totals.semanticHits = row["semantic_hits"]
        totals.images = row["images"]
        totals.textInputTokens = row["text_input_tokens"]
        totals.imageInputTokens = row["image_input_tokens"]
        totals.imageOutputTokens = row["image_output_tokens"]
        totals.textOutputTokens = row["text_output_tokens"]
        totals.unpricedRequests = row["unpriced"]
        totals.cost = Money(nanos: row["cost_nanos"])
        totals.saved = Money(nanos: row["saved_nanos"])
        return totals
    }

    /// Counters grouped by `groupBy` (in that order), and the total over the same rows.
    public func report(from: Date, to: Date, groupBy: [UsageDimension]) async throws -> UsageReport {
        try await database.writer.read { db in
            let range = "created_at >= ? AND created_at < ?"
            let total = try Row.fetchOne(db, sql: "SELECT \(Self.aggregates) FROM usage_ledger WHERE \(range)", arguments: [from, to]).map(Self.totals) ?? UsageTotals()
            var rows = [UsageReport.Row]()
            if !groupBy.isEmpty {
                let columns = groupBy.flatMap(Self.expression)
                let keys = groupBy.map { dimension -> String in
                    let first = Self.expression(dimension)[0]
                    return first.sql
                }
                let sql = """
                    SELECT \(columns.map { "\($0.sql) AS g_\($0.name)" }.joined(separator: ", ")), \(Self.aggregates)
                    FROM usage_ledger WHERE \(range) GROUP BY \(keys.joined(separator: ", ")) ORDER BY \(keys.joined(separator: ", "))
                    """
                for row in try Row.fetchAll(db, sql: sql, arguments: [from, to]) {
                    rows.append(UsageReport.Row(group: columns.map { ($0.name, row["g_\($0.name)"] as String?) }, totals: Self.totals(row)))
                }
            }
            return UsageReport(from: from, to: to, groupBy: groupBy, rows: rows, total: total)
        }
    }

    /// The raw rows in id order, `pageSize` at a time (constant memory for any range).
    public func export(from: Date, to: Date, pageSize: Int = 1000, _ body: ([UsageRecord]) async throws -> Void) async throws {
        var after: Int64 = 0
        while true {
            let cursor = after
            let page = try await database.writer.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT * FROM usage_ledger WHERE created_at >= ? AND created_at < ? AND id > ? ORDER BY id LIMIT ?",
                    arguments: [from, to, cursor, pageSize]
                ).map { (id: $0["id"] as Int64, record: Self.record($0)) }
            }
            guard let last = page.last else { return }
            try await body(page.map(\.record))
            after = last.id
            if page.count < pageSize { return }
        }
    }
}
