import AfterimageCore
import AfterimageServer
import AfterimageTesting
import Foundation
import Testing

/// schemathesis (from the test venv) generates requests from the served OpenAPI document for every
/// operation and checks the live server's answers: no 5xx, every status, content type, header and
/// body as documented. Fixed seed, bounded examples.
@Suite struct ContractTests {
    /// The venv's `schemathesis`, beside the venv's python.
    static var schemathesis: String? {
        guard let python = OpenAISDKTests.python else { return nil }
        let path = URL(fileURLWithPath: python).deletingLastPathComponent().appendingPathComponent("schemathesis").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    static let checks = [
        "not_a_server_error", "status_code_conformance", "content_type_conformance",
        "response_headers_conformance", "response_schema_conformance",
    ].joined(separator: ",")

    /// Runs wherever the venv has schemathesis, and always in CI (where a missing one is a failure).
    @Test(.enabled(if: schemathesis != nil || ProcessInfo.processInfo.environment["CI"] != nil))
    func everyOperationAnswersAsDocumented() async throws {
        let schemathesis = try #require(Self.schemathesis, "no schemathesis in the venv: run `make test` (scripts/setup.sh --test)")
        try await withFixture { f in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("contract-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            // One credential per security scheme of the document.
            let config = directory.appendingPathComponent("schemathesis.toml")
            try """
                [auth.openapi.adminKey]
                bearer = "\(TestGateway.adminKey)"
                [auth.openapi.virtualKey]
                bearer = "\(f.secret)"
                [auth.openapi.virtualKeyHeader]
                api_key = "\(f.secret)"
                [auth.openapi.metricsToken]
                bearer = "\(TestGateway.adminKey)"
                """.write(to: config, atomically: true, encoding: .utf8)
            // The image and operations routes first: the admin pass may revoke or rotate the
            // very key the image routes use (its stateful phase follows GET /admin/keys links).
            for (name, filter) in [("public", "--exclude-path-regex"), ("admin", "--include-path-regex")] {
                let outcome = try await ChildProcess.run(schemathesis, [
                    "--config-file", config.path, "run", "\(f.base)/openapi.json",
                    filter, "^/admin/", "--checks", Self.checks, "--max-examples", "10", "--seed", "20261204",
                    "--workers", "1", "--request-timeout", "30", "--no-color", "--output-truncate", "true",
                ], environment: [
                    "PATH": "/usr/bin:/bin", "HOME": directory.path, "SCHEMATHESIS_HOOKS": "",
                ], directory: directory)
                let text = outcome.stdout + outcome.stderr
                #expect(outcome.status == 0, "schemathesis (\(name) routes) failed:\n\(text.suffix(6000))")
                #expect(text.contains("passed"), "\(name): \(text.suffix(2000))")
            }
            // The run went through the gateway: image requests reached the stub, keys were listed.
            #expect(f.stub.received.contains { $0.path == "generations" }, "some generated requests were valid enough to go upstream")
        }
    }
}
