import AfterimageAlerts
import AfterimageCache
import AfterimageCore
import Foundation
import Hummingbird

/// `/admin/cache/…` tuning routes: the lookup log, what-if replays, labels, threshold suggestions
/// and run-time settings.
struct AdminTuningController: Sendable {
    let tuner: CacheTuner
    let maxRows: Int
    /// A `different` label is a false-hit report: an alert.
    var alerts: AlertCenter?

    func addRoutes(to group: RouterGroup<AfterimageRequestContext>) {
        group.get("cache/lookups") { request, _ in
            let query = try AdminRequest.query(request, allowed: ["namespace", "since", "limit"])
            let limit = try query["limit"].map { text -> Int in
                guard let n = Int(text), (1...10_000).contains(n) else { throw AfterimageError.invalidPayload("'limit' must be 1…10000.", param: "limit") }
                return n
            } ?? 100
            let entries = try await tuner.log.entries(namespace: query["namespace"], since: try AdminRequest.cutoff(query, "since"), limit: limit)
            return JSONResponse.make(.object(["object": "list", "data": .array(entries.map(\.json))]))
        }
        group.get("cache/what-if") { request, _ in
            let query = try AdminRequest.query(request, allowed: ["threshold", "namespace", "since"])
            guard let text = query["threshold"], let threshold = Float(text), (0...1).contains(threshold) else {
                throw AfterimageError.invalidPayload("'threshold' is required, between 0 and 1.", param: "threshold")
            }
            let entries = try await tuner.log.entries(namespace: query["namespace"], since: try AdminRequest.cutoff(query, "since"), limit: maxRows)
            return JSONResponse.make(WhatIf(threshold: threshold, entries: entries).json)
        }
        group.post("cache/labels") { request, _ in
            let body = try await AdminRequest.jsonObject(request)
            let items = body["labels"]?.arrayValue ?? [.object(body)]
            var labelled = 0
            for item in items {
                guard let id = item["id"]?.integerValue else { throw AfterimageError.invalidPayload("'id' (a lookup id) is required.", param: "id") }
                guard let label = item["label"]?.stringValue.flatMap(LookupLabel.init(rawValue:)) else {
                    throw AfterimageError.invalidPayload("'label' must be same or different.", param: "label")
                }
                let by = item["by"]?.stringValue ?? body["by"]?.stringValue ?? "admin-api"
                guard try await tuner.log.label(id: id, label: label, by: by) else { throw AfterimageError.notFound("No lookup with id \(id).") }
                if label == .different { alerts?.raise(.falseHit(lookupID: id, by: by)) }
                labelled += 1
            }
            return JSONResponse.make(.object(["object": "cache.labels", "labelled": .integer(Int64(labelled))]))
        }
        group.get("cache/labels/export") { request, _ in
            let query = try AdminRequest.query(request, allowed: ["namespace"])
            let entries = try await tuner.log.entries(namespace: query["namespace"], since: nil, limit: maxRows)
            let lines = try entries.reversed().compactMap(\.labelledPair).map { String(decoding: try JSONEncoder.afterimage.encode($0), as: UTF8.self) + "\n" }
            return AdminRequest.text(lines.joined(), contentType: "application/x-ndjson")
        }
        group.get("cache/suggest-threshold") { request, _ in
            let query = try AdminRequest.query(request, allowed: ["max_false_hit_rate", "confidence", "namespace"])
            func fraction(_ name: String, in range: ClosedRange<Double>, default value: Double) throws -> Double {
                guard let text = query[name] else { return value }
                guard text.utf8.count <= 32, let number = Double(text), number.isFinite, range.contains(number) else {
                    throw AfterimageError.invalidPayload("'\(name)' must be a number from \(range.lowerBound) to \(range.upperBound).", param: name)
                }
                return number
            }
            let rate = try fraction("max_false_hit_rate", in: 0.0001...0.5, default: 0.05)
            let confidence = try fraction("confidence", in: 0.5...0.999, default: 0.95)
            let all = try await tuner.log.entries(namespace: query["namespace"], since: nil, limit: maxRows)
            return JSONResponse.make(ThresholdSuggestion(maxFalseHitRate: rate, confidence: confidence, labelled: all.filter { $0.label != nil }, all: all).json)
        }
        group.get("cache/settings") { request, _ in
            let (_, settings) = try await tuner.store.load()
            let rows: [JSONValue] = settings.sorted { "\($0.key.namespace ?? "")|\($0.key.model ?? "")" < "\($1.key.namespace ?? "")|\($1.key.model ?? "")" }.map { scope, values in
                .object([
                    "namespace": scope.namespace.map(JSONValue.string) ?? .null, "model": scope.model.map(JSONValue.string) ?? .null,
                    "threshold": values.threshold.map { .number(Double($0)) } ?? .null, "word_similarity": values.wordSimilarity.map { .number(Double($0)) } ?? .null,
                ])
            }
            let history = try await tuner.store.history(limit: 100)
            return JSONResponse.make(.object([
                "object": "cache.settings", "default_threshold": .number(Double(tuner.base.threshold)),
                "default_word_similarity": .number(Double(tuner.base.wordSimilarity)),
                "settings": .array(rows), "history": .array(history.map(\.json)),
            ]))
        }
        group.put("cache/settings") { request, _ in
            let body = try await AdminRequest.jsonObject(request)
            let scope = CacheSettingScope(namespace: body["namespace"]?.stringValue, model: body["model"]?.stringValue)
            let threshold = try Self.fraction(body, "threshold")
            let wordSimilarity = try Self.fraction(body, "word_similarity")
            guard threshold != nil || wordSimilarity != nil else {
                throw AfterimageError.invalidPayload("Give 'threshold' and/or 'word_similarity' (0–1, or null to clear).", param: "threshold")
            }
            let by = body["by"]?.stringValue ?? request.headers[.init("x-afterimage-actor")!] ?? "admin-api"
            let changes = try await tuner.update(scope, threshold: threshold, wordSimilarity: wordSimilarity, by: by)
            return JSONResponse.make(.object(["object": "cache.settings.update", "changes": .array(changes.map(\.json))]))
        }
    }

    /// A 0–1 number, null (clear) or absent (leave).
    static func fraction(_ body: [String: JSONValue], _ name: String) throws -> Float?? {
        guard let value = body[name] else { return nil }
        if value == .null { return .some(nil) }
        guard let number = value.doubleValue, (0...1).contains(number) else {
            throw AfterimageError.invalidPayload("'\(name)' must be between 0 and 1, or null.", param: name)
        }
        return .some(Float(number))
    }
}
