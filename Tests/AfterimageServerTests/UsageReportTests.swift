import AfterimageCore
import AfterimageTesting
import Foundation
import Testing

/// Finance reports and exports: reconciliation across groupings, CSV escaping, CLI = admin API.
@Suite struct UsageReportTests {
    static let range = "from=2000-01-01&to=2100-01-01"

    /// A small mixed workload: two keys (one with an awkward name), two models, hits and an error.
    func workload(_ f: Fixture) async throws -> String {
        let (_, finance) = try await f.gateway.createKey(name: "Finance, \"EU\"\nteam", namespace: "finance")
        _ = try await f.generate(["model": "gpt-image-1", "prompt": "a red fox in snow", "size": "1024x1024", "quality": "medium"])
        _ = try await f.generate(["model": "gpt-image-1", "prompt": "a red fox in snow", "size": "1024x1024", "quality": "medium"])
        _ = try await f.generate(["model": "dall-e-2", "prompt": "a harbour", "size": "512x512", "n": 2], key: finance)
        _ = try await f.generate(["model": "dall-e-2", "prompt": "a harbour", "size": "512x512", "n": 2], key: finance)
        _ = try await f.generate(["model": "gpt-image-1", "prompt": "x", "size": "1x1"], key: finance)
        return finance
    }

    /// Minimal RFC 4180 reader for the assertions.
    static func parseCSV(_ text: String) -> [[String]] {
        var records = [[String]](), record = [String](), field = "", quoted = false
        var chars = Array(text), i = 0
        while i < chars.count {
            let c = chars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < chars.count, chars[i + 1] == "\"" { field.append("\""); i += 1 } else { quoted = false }
                } else { field.append(c) }
            } else if c == "\"" { quoted = true }
            else if c == "," { record.append(field); field = "" }
            else if c == "\r\n" || c == "\n" { record.append(field); records.append(record); record = []; field = "" }
            else if c != "\r" { field.append(c) }
            i += 1
        }
        if !field.isEmpty || !record.isEmpty { record.append(field); records.append(record) }
        chars = []
        return records
    }

    @Test func totalsReconcileAcrossEveryGrouping() async throws {
        try await withFixture { f in
            _ = try await workload(f)
            let total = try await f.admin(.GET, "/admin/usage?\(Self.range)").json["total"] ?? .null
            #expect(total["requests"] == 5 && total["errors"] == 1 && total["direct_hits"] == 2 && total["images"] == 6)
            // gpt-image-1 miss: 5 × 5 + 1056 × 40 = 42265 µ$; dall-e-2 512² × 2 = 36000 µ$; hits saved the same.
            #expect(total["cost_usd"] == "0.078265" && total["saved_usd"] == "0.078265" && total["cost_without_cache_usd"] == "0.156530")
            #expect(total["hit_rate"] == .number(0.5))
            let counters = ["requests", "errors", "direct_hits", "semantic_hits", "images", "text_input_tokens", "image_output_tokens"]
            for groupBy in ["key", "namespace", "model", "day", "endpoint", "key,model", "namespace,day,endpoint"] {
                let report = try await f.admin(.GET, "/admin/usage?\(Self.range)&group_by=\(groupBy)").json
                #expect(report["total"] == total, "\(groupBy)")
                let rows = report["rows"]?.arrayValue ?? []
                for counter in counters {
                    #expect(rows.reduce(0) { $0 + ($1[counter]?.integerValue ?? 0) } == total[counter]?.integerValue, "\(groupBy) \(counter)")
                }
                let cost = rows.reduce(Money.zero) { $0 + (Money(usd: $1["cost_usd"]?.stringValue ?? "") ?? .zero) }
                #expect(cost.usdString == total["cost_usd"]?.stringValue, "\(groupBy) cost")
            }
            let byKey = try await f.admin(.GET, "/admin/usage?\(Self.range)&group_by=key").json["rows"]?.arrayValue ?? []
            #expect(byKey.contains { $0["key_name"] == "Finance, \"EU\"\nteam" && $0["requests"] == 3 })
            #expect(try await f.admin(.GET, "/admin/usage?\(Self.range)&group_by=colour").errorParam == "group_by")
            #expect(try await f.admin(.GET, "/admin/usage?from=2026-13-01&to=2100-01-01").errorParam == "from")
            #expect(try await f.admin(.GET, "/admin/usage?from=2026-01-02&to=2026-01-01").status == 400)
        }
    }

    @Test func csvEscapesKeyNamesAndTheExportStreamsEveryRow() async throws {
        try await withFixture { f in
            _ = try await workload(f)
            let csv = try await f.admin(.GET, "/admin/usage?\(Self.range)&group_by=key&format=csv")
            #expect(csv.headers.first(name: "content-type")?.hasPrefix("text/csv") == true)
            let text = String(decoding: csv.body, as: UTF8.self)
            #expect(text.contains("\"Finance, \"\"EU\"\"\nteam\""))
            let records = Self.parseCSV(text)
            #expect(records.first?.prefix(3) == ["key_id", "key_name", "requests"])
            #expect(records.contains { $0[1] == "Finance, \"EU\"\nteam" })
            #expect(records.last?.first == "total")
            #expect(records.allSatisfy { $0.count == records[0].count })

            let export = try await f.admin(.GET, "/admin/usage/export?\(Self.range)&format=csv")
            let rows = Self.parseCSV(String(decoding: export.body, as: UTF8.self))
            #expect(rows.count == 6 && rows[0].first == "request_id")
            #expect(rows.dropFirst().contains { $0[3] == "Finance, \"EU\"\nteam" })
            let jsonl = try await f.admin(.GET, "/admin/usage/export?\(Self.range)&format=jsonl")
            let lines = String(decoding: jsonl.body, as: UTF8.self).split(separator: "\n")
            #expect(lines.count == 5)
            let first = try JSONDecoder().decode(JSONValue.self, from: Data(lines[0].utf8))
            #expect(first["cost_usd"] == "0.042265" && first["usage_source"] == "upstream")
        }
    }

    @Test
    func theCLIReportEqualsTheAdminAPI() async throws {
        try CommandLineTests.requireBinary()
        try await withFixture { f in
            let finance = try await workload(f)
            let environment = f.gateway.cliEnvironment.merging(["PATH": "/usr/bin:/bin"]) { $1 }
            func cli(_ arguments: [String]) async throws -> ChildProcess.Outcome {
                try await ChildProcess.run(CommandLineTests.binary, arguments, environment: environment, directory: FileManager.default.temporaryDirectory)
            }
            let outcome = try await cli(["usage", "report", "--from", "2000-01-01", "--to", "2100-01-01", "--group-by", "key,model", "--format", "json"])
            #expect(outcome.status == 0, "\(outcome.stderr)")
            let fromCLI = try JSONDecoder().decode(JSONValue.self, from: Data(outcome.stdout.utf8))
            let fromAPI = try await f.admin(.GET, "/admin/usage?\(Self.range)&group_by=key,model").json
            #expect(fromCLI == fromAPI)
            let table = try await cli(["usage", "report", "--from", "2000-01-01", "--to", "2100-01-01", "--group-by", "model"])
            #expect(table.stdout.contains("dall-e-2") && table.stdout.contains("total"))
            let export = try await cli(["usage", "export", "--from", "2000-01-01", "--to", "2100-01-01", "--format", "jsonl"])
            #expect(export.stdout.split(separator: "\n").count == 5)
            #expect(try await cli(["usage", "report", "--from", "yesterday", "--to", "2100-01-01"]).status != 0)

            // Limits from the CLI reach the running server at once.
            let keyID = try #require(try await f.admin(.GET, "/admin/keys").json["data"]?.arrayValue?.first { $0["namespace"] == "finance" }?["id"]?.stringValue)
            let updated = try await cli(["keys", "update", keyID, "--rpm", "1", "--budget-usd", "5", "--budget-period", "week", "--json"])
            #expect(updated.status == 0, "\(updated.stderr)")
            let json = try JSONDecoder().decode(JSONValue.self, from: Data(updated.stdout.utf8))
            #expect(json["rpm"] == 1 && json["budget_usd"] == "5.000000" && json["budget_period"] == "week")
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "first"], key: finance)
            #expect(try await f.generate(["model": "gpt-image-1", "prompt": "second"], key: finance).status == 429)
            let ns = try await cli(["namespaces", "update", "finance", "--images-per-minute", "40"])
            #expect(ns.status == 0 && ns.stdout.contains("\"images_per_minute\":40"), "\(ns.stdout)\(ns.stderr)")
            #expect(try await cli(["keys", "update", keyID, "--budget-period", "fortnight"]).status != 0)
        }
    }
}
