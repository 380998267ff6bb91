import AfterimageCore
import AfterimageTesting
import Foundation
import Testing

/// `--output table|json|csv` on every read command, `--json` as its older spelling, examples in
/// `--help`, and the completion script.
@Suite struct CommandLineOutputTests {
    func cli(_ arguments: [String], _ environment: [String: String] = [:]) async throws -> ChildProcess.Outcome {
        try await ChildProcess.run(
            CommandLineTests.binary, arguments, environment: environment.merging(["PATH": "/usr/bin:/bin"]) { a, _ in a },
            directory: FileManager.default.temporaryDirectory
        )
    }

    @Test func everyReadCommandPrintsTableJSONAndCSV() async throws {
        try CommandLineTests.requireBinary()
        try await withFixture { f in
            let environment = f.gateway.cliEnvironment
            _ = try await f.gateway.createKey(name: "Finance, \"EU\"", namespace: "eu", limits: SpendLimits(budget: Money(usd: "12.5"), budgetPeriod: .week))
            _ = try await f.admin(.PATCH, "/admin/namespaces/eu", ["rpm": 60])
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a lighthouse for the cli"])
            let reads: [[String]] = [
                ["keys", "list"], ["namespaces", "list"], ["cache", "stats"],
                ["usage", "report", "--from", "2000-01-01", "--to", "2100-01-01", "--group-by", "key"],
                ["cache", "whatif", "--threshold", "0.5"], ["cache", "suggest-threshold"],
            ]
            for command in reads {
                let table = try await cli(command, environment)
                let json = try await cli(command + ["--output", "json"], environment)
                let csv = try await cli(command + ["--output", "csv"], environment)
                for (name, outcome) in [("table", table), ("json", json), ("csv", csv)] {
                    #expect(outcome.status == 0, "\(command) \(name): \(outcome.stderr)")
                }
                #expect((try? JSONParser.parse(Data(json.stdout.utf8))) != nil, "\(command): json parses")
                #expect(csv.stdout.hasSuffix("\r\n") && csv.stdout.contains(","), "\(command): csv rows")
                #expect(table.stdout != json.stdout && table.stdout != csv.stdout)
            }
            // One row per key, fields escaped (RFC 4180), the same keys as the JSON list.
            let csv = try await cli(["keys", "list", "--output", "csv"], environment).stdout
            #expect(csv.hasPrefix("id,prefix,status,namespace,name,budget_usd,budget_period,expires_at\r\n"))
            #expect(csv.contains(",eu,\"Finance, \"\"EU\"\"\",12.500000,week,"))
            let listed = try JSONParser.parse(Data(try await cli(["keys", "list", "--output", "json"], environment).stdout.utf8))
            #expect(csv.split(separator: "\r\n").count == (listed.arrayValue?.count ?? 0) + 1)
            // `--json` is the older spelling of `--output json`.
            #expect(try await cli(["keys", "list", "--json"], environment).stdout == (try await cli(["keys", "list", "--output", "json"], environment)).stdout)
            // A single result as `field,value` rows.
            let stats = try await cli(["cache", "stats", "--output", "csv"], environment).stdout
            #expect(stats.hasPrefix("scope,name,entries,bytes,direct_hits,semantic_hits,misses,hit_rate\r\ntotal,total,1,"))
            let suggestion = try await cli(["cache", "suggest-threshold", "--output", "csv"], environment).stdout
            #expect(suggestion.hasPrefix("field,value\r\n") && suggestion.contains("\r\nobject,cache.threshold_suggestion\r\n"))
            // A namespace list in JSON is one array.
            let namespaces = try JSONParser.parse(Data(try await cli(["namespaces", "list", "--output", "json"], environment).stdout.utf8))
            #expect(namespaces.arrayValue?.first?["namespace"] == "eu" && namespaces.arrayValue?.first?["rpm"] == 60)
        }
    }

    /// A long command draws its progress on a terminal (a pseudo-terminal from `script`), and
    /// never into redirected output.
    @Test func progressIsDrawnOnATerminalOnly() async throws {
        try CommandLineTests.requireBinary()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("progress-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pairs = directory.appendingPathComponent("pairs.jsonl")
        let lines = (0..<40).map { #"{"a": "a red car number \#($0)", "b": "a red car number \#($0)!", "same": true}"# }
        try lines.joined(separator: "\n").write(to: pairs, atomically: true, encoding: .utf8)
        let config = directory.appendingPathComponent("eval.yaml")
        try "data_dir: \(directory.path)/data\ncache:\n  embedder: {kind: hashing}\n  guard: {vocabulary_dir: \(TestGateway.packageRoot.path)/Config/guard}\n"
            .write(to: config, atomically: true, encoding: .utf8)
        let arguments = ["cache", "eval", "--pairs", pairs.path, "--config", config.path]
        let piped = try await cli(arguments)
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(!piped.stderr.contains("\u{1B}[K") && !piped.stdout.contains("\u{1B}[K"), "no progress into a pipe")
        // Without a database there are no run-time settings to read: eval creates nothing.
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("data").path), "eval made a data directory")
        let command = ([CommandLineTests.binary] + arguments).map { "'\($0)'" }.joined(separator: " ")
        let terminal = try await ChildProcess.run("/usr/bin/script", ["-qec", command, "/dev/null"], environment: ["PATH": "/usr/bin:/bin", "TERM": "dumb"], directory: directory)
        #expect(terminal.status == 0, "\(terminal.stdout)\(terminal.stderr)")
        #expect(terminal.stdout.contains("\u{1B}[Kpairs 40/40 [##############################] 100%"), "\(terminal.stdout.prefix(500))")
        #expect(terminal.stdout.contains("recall"), "the result follows the bar")
        // Cross-validation draws its two phases: embedding the pairs, judging the guard variants.
        let folds = ([CommandLineTests.binary] + arguments + ["--folds", "2"]).map { "'\($0)'" }.joined(separator: " ")
        let validated = try await ChildProcess.run("/usr/bin/script", ["-qec", folds, "/dev/null"], environment: ["PATH": "/usr/bin:/bin", "TERM": "dumb"], directory: directory)
        #expect(validated.status == 0, "\(validated.stdout)\(validated.stderr)")
        #expect(validated.stdout.contains("\u{1B}[Kpairs 40/40") && validated.stdout.contains("\u{1B}[Kvariants "), "\(validated.stdout.prefix(800))")
    }

    /// `usage export` writes data to stdout: its row count goes to stderr only when asked
    /// (`AFTERIMAGE_PROGRESS=1`) or when a person watches stderr, never by default into a pipe.
    @Test func exportProgressFollowsTheProgressSetting() async throws {
        try CommandLineTests.requireBinary()
        try await withFixture { f in
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a lighthouse to export"])
            let arguments = ["usage", "export", "--from", "2000-01-01", "--to", "2100-01-01"]
            let quiet = try await cli(arguments, f.gateway.cliEnvironment)
            #expect(quiet.status == 0 && !quiet.stderr.contains("\u{1B}[K"), "\(quiet.stderr)")
            let forced = try await cli(arguments, f.gateway.cliEnvironment.merging(["AFTERIMAGE_PROGRESS": "1"]) { a, _ in a })
            #expect(forced.status == 0 && forced.stderr.contains("\u{1B}[Krows 1"), "\(forced.stderr)")
            #expect(forced.stdout == quiet.stdout && forced.stdout.contains("a lighthouse to export") == false && !forced.stdout.isEmpty, "the same data either way")
        }
    }

    @Test func badOutputValuesAreRefusedAndHelpShowsExamples() async throws {
        try CommandLineTests.requireBinary()
        let bad = try await cli(["keys", "list", "--output", "xml"])
        #expect(bad.status != 0 && bad.stderr.contains("--output"), "\(bad.stderr)")
        for (option, value) in [("--embed-threads", "0"), ("--embed-threads", "1000000"), ("--real", "-1"), ("--real", "99999999999")] {
            let refused = try await cli(["bench", "index", option, value])
            #expect(refused.status != 0 && refused.stderr.contains(option), "\(option) \(value): \(refused.stderr)")
        }
        let badFormat = try await cli(["usage", "report", "--from", "2026-01-01", "--to", "2026-02-01", "--format", "yaml"])
        #expect(badFormat.status != 0 && badFormat.stderr.contains("--format"))
        for command in [["--help"], ["keys", "create", "--help"], ["keys", "list", "--help"], ["usage", "report", "--help"], ["cache", "stats", "--help"]] {
            let help = try await cli(command)
            #expect(help.status == 0 && help.stdout.contains("EXAMPLES") && help.stdout.contains("afterimage "), "\(command)")
        }
        let completion = try await cli(["--generate-completion-script", "bash"])
        #expect(completion.status == 0 && completion.stdout.contains("afterimage") && completion.stdout.contains("complete"))
    }
}
