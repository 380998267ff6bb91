import AfterimageCore
import AfterimageMetering
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `/admin/usage`: the finance report (same result as `afterimage usage report`) and the raw
/// export, streamed page by page.
struct AdminUsageController: Sendable {
    let ledger: any UsageLedgerStore

    func addRoutes(to group: RouterGroup<AfterimageRequestContext>) {
        group.get("usage") { request, _ in
            let query = try AdminRequest.query(request, allowed: ["from", "to", "group_by", "format"])
            let (from, to) = try Self.range(query)
            let report = try await ledger.report(from: from, to: to, groupBy: try UsageDimension.parseList(query["group_by"] ?? ""))
            switch query["format"] ?? "json" {
            case "json": return JSONResponse.make(report.json)
            case "csv": return AdminRequest.text(report.csv, contentType: "text/csv; charset=utf-8")
            case "table": return AdminRequest.text(report.table, contentType: "text/plain; charset=utf-8")
            case let other: throw AfterimageError.invalidPayload("'format' must be json, csv or table; got '\(other)'.", param: "format")
            }
        }
        group.get("usage/export") { request, _ in
            let query = try AdminRequest.query(request, allowed: ["from", "to", "format"])
            let (from, to) = try Self.range(query)
            let format = query["format"] ?? "csv"
            guard ["csv", "jsonl"].contains(format) else {
                throw AfterimageError.invalidPayload("'format' must be csv or jsonl; got '\(format)'.", param: "format")
            }
            let ledger = ledger
            let body = ResponseBody { writer in
                if format == "csv" { try await writer.write(ByteBuffer(string: CSV.line(UsageRecord.exportColumns))) }
                try await ledger.export(from: from, to: to, pageSize: 1000) { page in
                    try await writer.write(ByteBuffer(string: try UsageExportFormat.render(page, format: format)))
                }
                try await writer.finish(nil)
            }
            let type = format == "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson"
            return Response(status: .ok, headers: [.contentType: type], body: body)
        }
    }

    static func range(_ query: [String: String]) throws -> (Date, Date) {
        var bounds = [Date]()
        for name in ["from", "to"] {
            guard let text = query[name] else { throw AfterimageError.invalidPayload("'\(name)' is required (YYYY-MM-DD or ISO 8601).", param: name) }
            guard let date = ReportTime.parse(text) else {
                throw AfterimageError.invalidPayload("'\(name)' must be YYYY-MM-DD or an ISO 8601 timestamp; got '\(text)'.", param: name)
            }
            bounds.append(date)
        }
        guard bounds[0] < bounds[1] else { throw AfterimageError.invalidPayload("'from' must be before 'to' (the range is [from, to)).", param: "from") }
        return (bounds[0], bounds[1])
    }
}
