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
            let metrics = String(decoding: try await f.metrics().body, as: UTF8.self)
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
            let text = String(decoding: try await f.metrics().body, as: UTF8.self)
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

/// The built-in dashboard in a real browser: headless Chromium loads `/dashboard` against a live
/// server with data; the key figures must be rendered. A screenshot is kept in `test-artifacts/`.
@Suite struct BuiltInDashboardTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    func browser(_ arguments: [String]) async throws -> ChildProcess.Outcome {
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)")
        return try await ChildProcess.run(
            Self.chromium!,
            ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=\(profile.path)",
             "--virtual-time-budget=15000"] + arguments,
            environment: ["PATH": "/usr/bin:/bin", "HOME": FileManager.default.temporaryDirectory.path],
            directory: FileManager.default.temporaryDirectory
        )
    }

    @Test(.enabled(if: chromium != nil))
    func keyFiguresRenderInHeadlessChromium() async throws {
        try await withFixture { f in
            let (designKey, design) = try await f.gateway.createKey(name: "design-team")
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a red sports car on a mountain road", "size": "1024x1024", "quality": "medium"], key: design)
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a red sports car on a mountain road", "size": "1024x1024", "quality": "medium"], key: design)
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a blue sports car on a mountain road", "size": "1024x1024", "quality": "medium"], key: design)
            _ = try await f.generate(["model": "dall-e-2", "prompt": "a harbour", "size": "256x256"])
            let page = try await f.get("/dashboard")
            #expect(page.status == 200 && page.headers.first(name: "content-type")?.hasPrefix("text/html") == true)
            let source = String(decoding: page.body, as: UTF8.self)
            #expect(!source.contains("<script src") && !source.contains("<link "), "no external resources")

            let url = "\(f.base)/dashboard#key=\(TestGateway.adminKey)"
            let dom = try await browser(["--dump-dom", url])
            #expect(dom.status == 0, "\(dom.stderr.suffix(2000))")
            let html = dom.stdout
            #expect(html.contains("data-loaded=\"true\""), "the page did not finish loading: \(html.prefix(3000))")
            // 4 requests; design-team's hit saved its miss's cost: 8 text tokens × $5 + 1056 × $40 per 1M = $0.042280.
            #expect(html.contains("id=\"kpi-requests\">4<"))
            #expect(html.contains("design-team"))
            #expect(html.contains("gpt-image-1") && html.contains("dall-e-2"))
            #expect(html.contains("id=\"kpi-saved\">$0.042280<"))
            #expect(html.contains("a blue sports car on a mountain road"), "the lookup log lists the prompt")
            #expect(html.contains("refused:"), "the guard verdict is shown")
            #expect(html.contains("logged lookups"), "the what-if result is rendered")
            #expect(html.contains("No suggestion yet") && html.contains("more lookups labelled different"), "the statistical suggestion says how many labels it needs")
            // The daily chart has axes, dates and values; the curve and the refusals are drawn.
            // The first day of the 30-day range is always labelled (then every fourth).
            let first = String(DateText.format(Date().addingTimeInterval(-29 * 86_400)).prefix(10).dropFirst(5))
            #expect(html.contains("class=\"x-label\">\(first)<"), "dates label the x axis (\(first))")
            #expect(html.contains("class=\"y-label\">$0.000<") || html.contains("class=\"y-label\">$0.00<"), "the USD axis has values")
            #expect(html.contains("class=\"y2-label\">100%<"), "the hit rate has its own axis")
            #expect(html.contains(">day (UTC, month-day)<") && html.contains(">USD<") && html.contains(">hit rate<"))
            #expect(html.contains("<rect") && html.contains("<polyline"), "bars and the hit-rate line")
            #expect(html.contains("class=\"curve-hits\"") && html.contains("class=\"curve-falseHits\"") && html.contains(">similarity threshold<"), "the what-if curve")
            #expect(html.contains("logged lookups refused by the guard"), "refusals by reason")
            #expect(html.contains("id=\"key-series\" hidden"), "no key chosen: no key chart yet")

            // A key's own series (what a click on its row opens; deep-linked here).
            let keyDOM = try await browser(["--dump-dom", "\(f.base)/dashboard#key=\(TestGateway.adminKey)&series=\(designKey.id)"])
            #expect(keyDOM.stdout.contains("data-loaded=\"true\""))
            #expect(keyDOM.stdout.contains("Key design-team: spend, savings and hit rate per day"), "the key's chart is titled")
            #expect(!keyDOM.stdout.contains("id=\"key-series\" hidden"), "the key's chart is shown")

            let artifacts = TestGateway.packageRoot.appendingPathComponent("test-artifacts")
            try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
            let screenshot = artifacts.appendingPathComponent("dashboard.png")
            try? FileManager.default.removeItem(at: screenshot)
            let shot = try await browser(["--screenshot=\(screenshot.path)", "--window-size=1280,1400", "--hide-scrollbars", url])
            #expect(shot.status == 0 && FileManager.default.fileExists(atPath: screenshot.path), "\(shot.stderr.suffix(2000))")
        }
    }
}
