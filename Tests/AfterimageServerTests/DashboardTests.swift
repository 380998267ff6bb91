import AfterimageCore
import AfterimageTesting
import Foundation
import Testing

/// The Grafana dashboard only queries metrics a live server exposes, and the metrics move.
@Suite struct DashboardTests {
    static let dashboard = TestGateway.packageRoot.appendingPathComponent("dashboards/grafana/afterimage.json")

    /// Metric families named in the dashboard's queries (histogram series mapped to their family).
    static func queriedFamilies() throws -> Set<String> {
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: dashboard))
        var expressions = [String]()
        func walk(_ value: JSONValue) {
            switch value {
            case .object(let object):
                if let expr = object["expr"]?.stringValue { expressions.append(expr) }
                object.values.forEach(walk)
            case .array(let array): array.forEach(walk)
            default: break
            }
        }
        walk(json)
        let pattern = try NSRegularExpression(pattern: "afterimage_[a-z0-9_]+")
        var names = Set<String>()
        for expr in expressions {
            for match in pattern.matches(in: expr, range: NSRange(expr.startIndex..., in: expr)) {
                var name = String(expr[Range(match.range, in: expr)!])
                for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
                names.insert(name)
            }
        }
        return names
    }

    @Test func everyQueriedMetricIsExposedBeforeAnyTraffic() async throws {
        let families = try Self.queriedFamilies()
        #expect(families.count >= 12)
        try await withFixture { f in
            let metrics = String(decoding: try await f.get("/metrics").body, as: UTF8.self)
            for family in families.sorted() {
                #expect(metrics.contains("# TYPE \(family) "), "\(family) is queried by the dashboard but not in /metrics")
            }
            let json = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: Self.dashboard))
            #expect(json["templating"]?["list"]?.arrayValue?.first?["type"] == "datasource")
        }
    }

    @Test func metricsFollowTraffic() async throws {
        try await withFixture { f in
            let (_, budgeted) = try await f.gateway.createKey(name: "budget", limits: SpendLimits(budget: Money(usd: "1")!, budgetPeriod: .day))
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a red fox in snow", "size": "1024x1024", "quality": "medium"], key: budgeted)
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a red fox in snow", "size": "1024x1024", "quality": "medium"], key: budgeted)
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a blue fox in snow", "size": "1024x1024", "quality": "medium"], key: budgeted)
            let text = String(decoding: try await f.get("/metrics").body, as: UTF8.self)
            let lines = text.split(separator: "\n").map(String.init)
            func value(_ prefix: String) -> Double? {
                lines.first { $0.hasPrefix(prefix + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
            }
            #expect(value("afterimage_cache_lookups_total{result=\"direct\"}") == 1)
            let misses = (value("afterimage_cache_lookups_total{result=\"miss\"}") ?? 0) + (value("afterimage_cache_lookups_total{result=\"guard_refused\"}") ?? 0)
            #expect(misses == 2)
            #expect(value("afterimage_cache_entries") == 2)
            #expect(value("afterimage_tokens_total{kind=\"image_output\",model=\"gpt-image-1\"}") == 2112)
            let cost = try #require(lines.first { $0.hasPrefix("afterimage_cost_usd_total{") }.flatMap { Double($0.split(separator: " ").last ?? "") })
            #expect(abs(cost - 2 * 0.042265) < 1e-9)
            let saved = try #require(lines.first { $0.hasPrefix("afterimage_saved_usd_total{") }.flatMap { Double($0.split(separator: " ").last ?? "") })
            #expect(abs(saved - 0.042265) < 1e-9)
            let remaining = try #require(lines.first { $0.hasPrefix("afterimage_budget_remaining_usd{") }.flatMap { Double($0.split(separator: " ").last ?? "") })
            #expect(abs(remaining - (1 - 2 * 0.042265)) < 1e-9)
            #expect(text.contains("afterimage_cache_similarity_bucket"))
            #expect(text.contains("afterimage_embedding_duration_seconds_count"))
            #expect(!text.contains(f.secret))
        }
    }
}
