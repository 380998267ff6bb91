import AfterimageCore
import AfterimageTesting
import Foundation
import Testing

/// The built `afterimage` binary: key management against a running server, and config errors.
@Suite struct CommandLineTests {
    static let binary = OpenAISDKTests.packageRoot.appendingPathComponent(".build/debug/afterimage").path

    /// CLI tests fail, never skip, when the binary is missing (`swift build` builds it).
    static func requireBinary() throws {
        try #require(FileManager.default.isExecutableFile(atPath: binary), "\(binary) is missing: run `swift build` (make test does)")
    }

    func run(_ arguments: [String], environment: [String: String], input: Data? = nil) async throws -> ChildProcess.Outcome {
        try await ChildProcess.run(
            Self.binary, arguments, environment: environment.merging(["PATH": "/usr/bin:/bin"]) { a, _ in a },
            input: input, directory: FileManager.default.temporaryDirectory
        )
    }

    @Test
    func keysCreatedByTheCLIWorkWithoutRestart() async throws {
        try CommandLineTests.requireBinary()
        try await withFixture { f in
            let environment = f.gateway.cliEnvironment.merging([:]) { $1 }
            let created = try await run(["keys", "create", "--name", "cli team", "--models", "gpt-image-1,dall-e-2", "--json"], environment: environment)
            #expect(created.status == 0, "\(created.stderr)")
            let json = try JSONDecoder().decode(JSONValue.self, from: Data(created.stdout.utf8))
            let secret = try #require(json["key"]?.stringValue)
            let id = try #require(json["id"]?.stringValue)
            #expect(json["models"] == ["gpt-image-1", "dall-e-2"])
            #expect(try await f.generate(["model": "gpt-image-1", "prompt": "from the cli"], key: secret).status == 200)

            let listed = try await run(["keys", "list"], environment: environment)
            #expect(listed.stdout.contains(id) && !listed.stdout.contains(secret))

            let rotated = try await run(["keys", "rotate", id, "--json"], environment: environment)
            let newSecret = try #require(try JSONDecoder().decode(JSONValue.self, from: Data(rotated.stdout.utf8))["key"]?.stringValue)
            #expect(try await f.generate(["model": "gpt-image-1", "prompt": "old"], key: secret).status == 401)
            #expect(try await f.generate(["model": "gpt-image-1", "prompt": "new"], key: newSecret).status == 200)

            #expect(try await run(["keys", "revoke", id], environment: environment).status == 0)
            #expect(try await f.generate(["model": "gpt-image-1", "prompt": "revoked"], key: newSecret).status == 401)
            #expect(try await run(["keys", "revoke", "key_missing"], environment: environment).status != 0)
            #expect(try await run(["keys", "create", "--name", "x", "--expires", "someday"], environment: environment).status != 0)
        }
    }

    @Test
    func invalidConfigExitsWithOneLineNamingTheKey() async throws {
        try CommandLineTests.requireBinary()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).yaml")
        try "upstream:\n  retry:\n    max_attempts: 0\n".write(to: file, atomically: true, encoding: .utf8)
        let outcome = try await run(["serve"], environment: ["AFTERIMAGE_CONFIG": file.path])
        #expect(outcome.status != 0)
        let lines = outcome.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(outcome.stderr)")
        #expect(lines.first?.contains("upstream.retry.max_attempts") == true)
    }

    @Test
    func embedWritesOneJSONLinePerInputLine() async throws {
        try CommandLineTests.requireBinary()
        let input = Data("a red fox\n\tcafé au lait  \nthird line\n".utf8)
        let outcome = try await run(["embed", "--embedder", "hashing"], environment: [:], input: input)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let lines = outcome.stdout.split(separator: "\n").map { try! JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
        #expect(lines.map { $0["text"]?.stringValue } == ["a red fox", "\tcafé au lait  ", "third line"])
        #expect(lines.allSatisfy { $0["embedding"]?.arrayValue?.count == 384 && $0["input_ids"] == nil })
    }

    @Test
    func embedWithMiniLMPrintsInputIDs() async throws {
        try CommandLineTests.requireBinary()
        let modelDirectory = OpenAISDKTests.packageRoot.appendingPathComponent("models/all-MiniLM-L6-v2").path
        try #require(FileManager.default.fileExists(atPath: modelDirectory), "run scripts/fetch-model.sh")
        let outcome = try await run(
            ["embed", "--model-dir", modelDirectory], environment: [:],
            input: Data("a red fox sitting in a snowy forest at dawn, highly detailed, 8k\n".utf8)
        )
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let line = try JSONDecoder().decode(JSONValue.self, from: Data(outcome.stdout.utf8))
        let ids = line["input_ids"]?.arrayValue?.compactMap(\.integerValue)
        #expect(ids == [101, 1037, 2417, 4419, 3564, 1999, 1037, 20981, 3224, 2012, 6440, 1010, 3811, 6851, 1010, 1022, 2243, 102])
        #expect(line["embedding"]?.arrayValue?.count == 384)
    }

    @Test
    func serveWithMissingModelExitsWithOneLine() async throws {
        try CommandLineTests.requireBinary()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nomodel-\(UUID().uuidString)")
        let outcome = try await run(["serve"], environment: [
            "AFTERIMAGE_MODEL_DIR": directory.appendingPathComponent("models/all-MiniLM-L6-v2").path,
            "AFTERIMAGE_DATA_DIR": directory.appendingPathComponent("data").path, "AFTERIMAGE_PORT": "0",
        ])
        #expect(outcome.status != 0)
        let lines = outcome.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(outcome.stderr)")
        #expect(lines.first?.contains("config.json") == true)
        #expect(lines.first?.contains("scripts/fetch-model.sh") == true)
    }
}

extension CommandLineTests {
    /// `cache eval` on the public pairs with MiniLM: the goal is zero false hits and recall ≥ 60%.
    @Test
    func cacheEvalMeetsTheGoalOnThePublicPairs() async throws {
        try CommandLineTests.requireBinary()
        let root = OpenAISDKTests.packageRoot
        try #require(FileManager.default.fileExists(atPath: root.appendingPathComponent("models/all-MiniLM-L6-v2/model.safetensors").path), "run scripts/fetch-model.sh")
        let pairs = root.appendingPathComponent("Tests/AfterimageServerTests/Fixtures/cache-pairs-public.jsonl").path
        let outcome = try await ChildProcess.run(
            Self.binary, ["cache", "eval", "--pairs", pairs, "--json", "--config", root.appendingPathComponent("Config/afterimage.yaml").path],
            environment: ["PATH": "/usr/bin:/bin"], directory: root
        )
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let result = try JSONDecoder().decode(JSONValue.self, from: Data(outcome.stdout.utf8))
        #expect(result["pairs"] == 167 && result["same_pairs"] == 84 && result["different_pairs"] == 83)
        #expect(result["false_hits"] == 0)
        #expect((result["recall"]?.doubleValue ?? 0) >= 0.65)
        #expect(result["precision"]?.doubleValue == 1)
        #expect(result["per_kind"]?["trivial"]?["pairs"] == 31)
        #expect(result["threshold"]?.doubleValue.map { abs($0 - 0.60) < 1e-6 } == true)
    }
}
