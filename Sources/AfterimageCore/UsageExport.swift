import Foundation

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
            .string(requestID), .string(KeyExpiry.formatPrecise(createdAt)), text(keyID), text(keyName), text(namespace), .string(endpoint.rawValue),
            text(provider), text(modelRequested), text(modelUsed), int(status), text(errorCode), text(cache), similarity.map(JSONValue.number) ?? .null,
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
                text += String(decoding: try JSONEncoder.afterimage.encode(JSONValue.object(object)), as: UTF8.self) + "\n"
            }
        }
        return text
    }
}
