import AfterimageCore
import Foundation
import PostgresNIO

/// Reports and exports over `usage_ledger` on a half-open `[from, to)` range (the same figures as
/// the SQLite ledger's: the conformance tests compare them).
extension PostgresUsageLedger {
    static func expression(_ dimension: UsageDimension) -> [(name: String, sql: String)] {
        switch dimension {
        case .key: return [("key_id", "key_id"), ("key_name", "MAX(key_name)")]
        case .namespace: return [("namespace", "namespace")]
        case .model: return [("model", "COALESCE(model_used, model_requested)")]
        case .day: return [("day", "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')")]
        case .endpoint: return [("endpoint", "endpoint")]
        }
    }

    static let aggregates = """
        COUNT(*)::bigint AS requests, COALESCE(SUM((status >= 400)::int), 0)::bigint AS errors,
        COALESCE(SUM((cache = 'direct')::int), 0)::bigint AS direct_hits, COALESCE(SUM((cache = 'semantic')::int), 0)::bigint AS semantic_hits,
        COALESCE(SUM(images), 0)::bigint AS images, COALESCE(SUM(text_input_tokens), 0)::bigint AS text_input_tokens,
        COALESCE(SUM(image_input_tokens), 0)::bigint AS image_input_tokens, COALESCE(SUM(image_output_tokens), 0)::bigint AS image_output_tokens,
        COALESCE(SUM(text_output_tokens), 0)::bigint AS text_output_tokens,
        COALESCE(SUM((cost_nanos IS NULL AND status < 400)::int), 0)::bigint AS unpriced,
        COALESCE(SUM(cost_nanos), 0)::bigint AS cost_nanos, COALESCE(SUM(saved_nanos), 0)::bigint AS saved_nanos
        """

    static func totals(_ row: PostgresRow) throws -> UsageTotals {
        let c = row.makeRandomAccess()
        func int(_ name: String) throws -> Int { Int(try c[name].decode(Int64.self)) }
        var totals = UsageTotals()
        totals.requests = try int("requests")
        totals.errors = try int("errors")
        totals.directHits = try int("direct_hits")
        totals.semanticHits = try int("semantic_hits")
        totals.images = try int("images")
        totals.textInputTokens = try int("text_input_tokens")
        totals.imageInputTokens = try int("image_input_tokens")
        totals.imageOutputTokens = try int("image_output_tokens")
        totals.textOutputTokens = try int("text_output_tokens")
        totals.unpricedRequests = try int("unpriced")
        totals.cost = Money(nanos: try c["cost_nanos"].decode(Int64.self))
        totals.saved = Money(nanos: try c["saved_nanos"].decode(Int64.self))
        return totals
    }

    /// Counters grouped by `groupBy` (in that order), and the total over the same rows.
    public func report(from: Date, to: Date, groupBy: [UsageDimension]) async throws -> UsageReport {
        var total = UsageTotals()
        for try await row in try await database.query(
            "SELECT \(unescaped: Self.aggregates) FROM usage_ledger WHERE created_at >= \(from) AND created_at < \(to)", timeout: PostgresBackend.slowOperation) {
            total = try Self.totals(row)
        }
        var rows = [UsageReport.Row]()
        if !groupBy.isEmpty {
            let columns = groupBy.flatMap(Self.expression)
            let keys = groupBy.map { Self.expression($0)[0].sql }.joined(separator: ", ")
            let select = columns.map { "\($0.sql) AS g_\($0.name)" }.joined(separator: ", ")
            let query: PostgresQuery = """
                SELECT \(unescaped: select), \(unescaped: Self.aggregates) FROM usage_ledger
                WHERE created_at >= \(from) AND created_at < \(to) GROUP BY \(unescaped: keys) ORDER BY \(unescaped: keys)
                """
            for try await row in try await database.query(query, timeout: PostgresBackend.slowOperation) {
                let random = row.makeRandomAccess()
                let group = try columns.map { ($0.name, try random["g_\($0.name)"].decode(String?.self)) }
                rows.append(UsageReport.Row(group: group, totals: try Self.totals(row)))
            }
        }
        return UsageReport(from: from, to: to, groupBy: groupBy, rows: rows, total: total)
    }

    /// The raw rows in id order, `pageSize` at a time (constant memory for any range).
    public func export(from: Date, to: Date, pageSize: Int, _ body: ([UsageRecord]) async throws -> Void) async throws {
        var after: Int64 = 0
        let size = max(1, pageSize)
        while true {
            var page = [UsageRecord]()
            var last: Int64?
            let rows = try await database.query(
                "SELECT * FROM usage_ledger WHERE created_at >= \(from) AND created_at < \(to) AND id > \(after) ORDER BY id LIMIT \(size)", timeout: PostgresBackend.slowOperation)
            for try await row in rows {
                last = try row.makeRandomAccess()["id"].decode(Int64.self)
                page.append(try Self.record(row))
            }
            guard let last else { return }
            try await body(page)
            after = last
            if page.count < size { return }
        }
    }
}
