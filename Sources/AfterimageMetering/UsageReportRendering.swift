import AfterimageCore
import Foundation

/// The report and export renderings: JSON, RFC 4180 CSV, the CLI's text table, and export lines.
extension UsageReport {
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
            "from": .string(DateText.format(from)), "to": .string(DateText.format(to)),
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

    /// A fixed-width text table (the CLI's default format).
    public var table: String {
        let groupCount = Self.groupColumns(groupBy).count
        var cells = [columns]
        for row in rows { cells.append(row.group.map { $0.1 ?? "-" } + row.totals.fields.map { Self.text($0.1) }) }
        let label = groupCount == 0 ? [] : ["total"] + Array(repeating: "", count: groupCount - 1)
        cells.append(label + total.fields.map { Self.text($0.1) })
        let widths = columns.indices.map { index in cells.map { $0[index].count }.max() ?? 0 }
        var text = "usage \(DateText.format(from)) – \(DateText.format(to)) (to excluded)\n"
        for (number, line) in cells.enumerated() {
            if number == cells.count - 1 { text += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n" }
            text += zip(line, widths).enumerated().map { index, pair in
                let padding = String(repeating: " ", count: max(0, pair.1 - pair.0.count))
                return index < groupCount ? pair.0 + padding : padding + pair.0
            }.joined(separator: "  ") + "\n"
        }
        return text
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

extension UsageRecord {
    /// Export column names, in order.
    public static let exportColumns = [
        "request_id", "created_at", "key_id", "key_name", "namespace", "endpoint", "provider", "model_requested", "model_used",
        "status", "error_code", "cache", "similarity", "images", "size", "quality", "text_input_tokens", "cached_text_input_tokens",
        "image_input_tokens", "cached_image_input_tokens", "image_output_tokens", "text_output_tokens", "usage_source",
        "cost_usd", "cost_nanodollars", "saved_usd", "saved_nanodollars", "embedding_tokens", "latency_ms", "upstream_latency_ms",
        "price_version", "cache_entry_id",
    ]

    /// The row as export values (nil = empty / null), in `exportColumns` order.
    public var exportValues: [JSONValue] {
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        func int(_ value: Int?) -> JSONValue { value.map { .integer(Int64($0)) } ?? .null }
        return [
            .string(requestID), .string(DateText.formatPrecise(createdAt)), text(keyID), text(keyName), text(namespace), .string(endpoint.rawValue),
            text(provider), text(modelRequested), text(modelUsed), int(status), text(errorCode), text(cache?.rawValue), similarity.map(JSONValue.number) ?? .null,
            int(images), text(size), text(quality), int(textInputTokens), int(cachedTextInputTokens), int(imageInputTokens),
            int(cachedImageInputTokens), int(imageOutputTokens), int(textOutputTokens), text(usageSource),
            cost.map { .string($0.usdString) } ?? .null, cost.map { .integer($0.nanos) } ?? .null, .string(saved.usdString), .integer(saved.nanos),
            int(embeddingTokens), int(latencyMs), int(upstreamLatencyMs), text(priceVersion), cacheEntryID.map(JSONValue.integer) ?? .null,
        ]
    }
}

/// The export's line formats.
public enum UsageExportFormat {
    /// CSV lines (no header) or JSON lines for a page of rows.
    public static func render(_ rows: [UsageRecord], format: String) throws -> String {
        var text = ""
        for row in rows {
            let values = row.exportValues
            if format == "csv" {
                text += CSV.line(values.map(UsageReport.text))
            } else {
                var object = [String: JSONValue]()
                for (name, value) in zip(UsageRecord.exportColumns, values) { object[name] = value }
                text += String(decoding: JSONWriter.bytes(JSONValue.object(object)), as: UTF8.self) + "\n"
            }
        }
        return text
    }
}
