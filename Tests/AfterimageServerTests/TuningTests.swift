import AfterimageCore
import AfterimageTesting
import Foundation
import Testing

/// The lookup log, labels, what-if, suggestions and run-time settings on a live server.
@Suite struct TuningTests {
    func debug(_ reply: TestHTTP.Reply) -> JSONValue { reply.json["extra_fields"]?["cache_debug"] ?? .null }

    @Test func lookupsAreLoggedLabelledAndReplayed() async throws {
        try await withFixture { f in
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a red sports car on a mountain road"])
            let refused = try await f.generate(["model": "gpt-image-1", "prompt": "a blue sports car on a mountain road"])
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a grey cat on a bookshelf"])
            let hit = try await f.generate(["model": "gpt-image-1", "prompt": "Please draw a gray cat on a bookshelf"])
            #expect(hit.headers.first(name: "x-afterimage-cache") == "hit-semantic")

            let log = try await f.admin(.GET, "/admin/cache/lookups?namespace=\(f.key.namespace)").json["data"]?.arrayValue ?? []
            #expect(log.count == 4)
            let blue = try #require(log.first { $0["request_id"]?.stringValue == refused.headers.first(name: "x-request-id") })
            #expect(blue["prompt"] == "a blue sports car on a mountain road" && blue["candidate_prompt"] == "a red sports car on a mountain road")
            #expect(blue["guard"]?.stringValue?.hasPrefix("refused:") == true && blue["decision"] == "miss")
            #expect(blue["threshold"]?.doubleValue.map { abs($0 - 0.60) < 1e-6 } == true && blue["candidate_cost_usd"] != .null)
            let served = try #require(log.first { $0["decision"] == "semantic" })
            #expect(served["guard"] == "allowed")

            let whatIf = try await f.admin(.GET, "/admin/cache/what-if?threshold=0.5&namespace=\(f.key.namespace)").json
            #expect(whatIf["lookups"] == 4 && whatIf["current"]?["hits"] == 1)
            #expect(whatIf["at_threshold"]?["hits"] == 1, "the refused pair stays refused at any threshold")
            #expect(try await f.admin(.GET, "/admin/cache/what-if?threshold=2").errorParam == "threshold")

            let blueID = try #require(blue["id"]?.integerValue), servedID = try #require(served["id"]?.integerValue)
            let labelled = try await f.admin(.POST, "/admin/cache/labels", ["labels": [["id": .integer(blueID), "label": "different"], ["id": .integer(servedID), "label": "same"]], "by": "alice"])
            #expect(labelled.json["labelled"] == 2)
            #expect(try await f.admin(.POST, "/admin/cache/labels", ["id": .integer(blueID), "label": "maybe"]).errorParam == "label")
            #expect(try await f.admin(.POST, "/admin/cache/labels", ["id": 999_999, "label": "same"]).status == 404)
            // Two labels are far too few for a 95% bound below 5%: the suggestion says how many more it needs.
            let suggestion = try await f.admin(.GET, "/admin/cache/suggest-threshold?max_false_hit_rate=0.05").json
            #expect(suggestion["labelled"] == 2 && suggestion["threshold"] == .null && suggestion["more_different_labels_needed"] == 58)
            #expect(try await f.admin(.GET, "/admin/cache/suggest-threshold?max_false_hit_rate=0").errorParam == "max_false_hit_rate")
            #expect(try await f.admin(.GET, "/admin/cache/suggest-threshold?confidence=NaN").errorParam == "confidence")
            #expect(try await f.admin(.GET, "/admin/cache/suggest-threshold?confidence=1e999").errorParam == "confidence")

            let pairs = String(decoding: try await f.admin(.GET, "/admin/cache/labels/export").body, as: UTF8.self).split(separator: "\n")
            #expect(pairs.count == 2)
            let first = try JSONDecoder().decode(JSONValue.self, from: Data(pairs[0].utf8))
            #expect(first == ["a": "a red sports car on a mountain road", "b": "a blue sports car on a mountain road", "same": false, "kind": "labelled"])
        }
    }

    @Test func promptsAreHashedWhereTheNamespaceSaysSo() async throws {
        try await withFixture(configure: { $0.cache.namespaces["private"] = .init(keepPrompts: false) }) { f in
            let (_, secret) = try await f.gateway.createKey(name: "private", namespace: "private")
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a secret prototype"], key: secret)
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "the secret prototype, please"], key: secret)
            // Refused for a word only one prompt has: the log keeps the rule, not the word.
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a secret prototype with a zeppelin"], key: secret)
            let log = try await f.admin(.GET, "/admin/cache/lookups?namespace=private").json["data"]?.arrayValue ?? []
            #expect(log.count == 3)
            #expect(log.allSatisfy { $0["prompt"] == .null && $0["prompt_sha256"]?.stringValue?.count == 64 })
            #expect(log.allSatisfy { !($0["guard"]?.stringValue ?? "").contains("zeppelin") })
            #expect(log.contains { $0["guard"]?.stringValue?.hasPrefix("refused:") == true })
            #expect(log.contains { $0["candidate_prompt"] == .null && $0["candidate_sha256"] != .null })
        }
    }

    @Test func settingsChangeAtOnceAndAreAudited() async throws {
        try await withFixture { f in
            func threshold(_ reply: TestHTTP.Reply) -> Double? { debug(reply)["threshold"]?.doubleValue }
            let put = try await f.admin(.PUT, "/admin/cache/settings", ["namespace": .string(f.key.namespace), "threshold": 0.93, "by": "alice"])
            #expect(put.status == 200 && put.json["changes"]?.arrayValue?.first?["new"] == .number(0.93))
            let first = try await f.generate(["model": "gpt-image-1", "prompt": "a lighthouse"])
            #expect(threshold(first).map { abs($0 - 0.93) < 1e-6 } == true)
            // A model-wide setting is weaker than the namespace's.
            _ = try await f.admin(.PUT, "/admin/cache/settings", ["model": "gpt-image-1-mini", "threshold": 0.97])
            #expect(threshold(try await f.generate(["model": "gpt-image-1-mini", "prompt": "a lighthouse"])).map { abs($0 - 0.93) < 1e-6 } == true)
            let (_, other) = try await f.gateway.createKey(name: "other")
            #expect(threshold(try await f.generate(["model": "gpt-image-1-mini", "prompt": "a lighthouse"], key: other)).map { abs($0 - 0.97) < 1e-6 } == true)
            // The header may still raise it, never lower it.
            let lowered = try await f.generate(["model": "gpt-image-1", "prompt": "a lighthouse"], headers: [("x-afterimage-cache-threshold", "0.5")])
            #expect(threshold(lowered).map { abs($0 - 0.93) < 1e-6 } == true)

            #expect(try await f.admin(.PUT, "/admin/cache/settings", ["threshold": 1.5]).errorParam == "threshold")
            #expect(try await f.admin(.PUT, "/admin/cache/settings", ["namespace": "x"]).status == 400)
            _ = try await f.admin(.PUT, "/admin/cache/settings", ["namespace": .string(f.key.namespace), "threshold": .null, "by": "bob"])
            #expect(threshold(try await f.generate(["model": "gpt-image-1", "prompt": "a lighthouse"])).map { abs($0 - 0.60) < 1e-6 } == true)
            let settings = try await f.admin(.GET, "/admin/cache/settings").json
            let history = settings["history"]?.arrayValue ?? []
            #expect(history.count == 3)
            #expect(history.first?["by"] == "bob" && history.first?["old"] == .number(0.93) && history.first?["new"] == .null)
            #expect(history.last?["by"] == "alice" && history.last?["field"] == "threshold")
        }
    }

    @Test
    func theCLITunesARunningServer() async throws {
        try CommandLineTests.requireBinary()
        try await withFixture { f in
            let environment = f.gateway.cliEnvironment.merging(["PATH": "/usr/bin:/bin", "USER": "carol"]) { $1 }
            func cli(_ arguments: [String]) async throws -> ChildProcess.Outcome {
                try await ChildProcess.run(CommandLineTests.binary, arguments, environment: environment, directory: FileManager.default.temporaryDirectory)
            }
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a red sports car on a mountain road"])
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a blue sports car on a mountain road"])
            let set = try await cli(["cache", "set-threshold", "0.91", "--namespace", f.key.namespace])
            #expect(set.status == 0 && set.stdout.contains("by carol"), "\(set.stdout)\(set.stderr)")
            try await Task.sleep(for: .milliseconds(1100)) // the server re-reads settings at most once a second
            let after = try await f.generate(["model": "gpt-image-1", "prompt": "a green bicycle"])
            #expect(debug(after)["threshold"]?.doubleValue.map { abs($0 - 0.91) < 1e-6 } == true)

            // Reading the log through the server writes its queued rows first (they are batched
            // off the response path, ≤ 20 ms), so the CLI below sees all three.
            let lookups = try await f.admin(.GET, "/admin/cache/lookups").json["data"]?.arrayValue ?? []
            let whatIf = try await cli(["cache", "whatif", "--threshold", "0.5", "--since", "1h", "--json"])
            #expect(whatIf.status == 0, "\(whatIf.stderr)")
            #expect(try JSONDecoder().decode(JSONValue.self, from: Data(whatIf.stdout.utf8))["lookups"] == 3)
            let blueID = try #require(lookups.first { $0["prompt"] == "a blue sports car on a mountain road" }?["id"]?.integerValue)
            #expect(try await cli(["cache", "label", String(blueID), "different"]).status == 0)
            #expect(try await cli(["cache", "label", String(blueID), "perhaps"]).status != 0)
            let exported = try await cli(["cache", "export-labels"])
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("labels-\(UUID().uuidString).jsonl")
            try exported.stdout.write(to: file, atomically: true, encoding: .utf8)
            // The labels are a pairs file for `cache eval`.
            let config = FileManager.default.temporaryDirectory.appendingPathComponent("eval-\(UUID().uuidString).yaml")
            try "cache:\n  embedder: {kind: hashing}\n  guard: {vocabulary_dir: \(TestGateway.packageRoot.path)/Config/guard}\n".write(to: config, atomically: true, encoding: .utf8)
            let eval = try await cli(["cache", "eval", "--config", config.path, "--pairs", file.path, "--json"])
            #expect(eval.status == 0, "\(eval.stderr)")
            let result = try JSONDecoder().decode(JSONValue.self, from: Data(eval.stdout.utf8))
            #expect(result["pairs"] == 1 && result["different_pairs"] == 1 && result["false_hits"] == 0)
            let suggest = try await cli(["cache", "suggest-threshold", "--json"])
            #expect(try JSONDecoder().decode(JSONValue.self, from: Data(suggest.stdout.utf8))["labelled"] == 1)
        }
    }
}
