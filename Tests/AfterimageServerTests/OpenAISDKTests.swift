import AfterimageCore
import AfterimageTesting
import Foundation
import Testing

/// The official openai Python SDK (from the venv `make test` creates) against a live gateway.
@Suite struct OpenAISDKTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The venv's python: `AFTERIMAGE_SDK_PYTHON`, else `.venv/bin/python` when present.
    static var python: String? {
        if let configured = ProcessInfo.processInfo.environment["AFTERIMAGE_SDK_PYTHON"] { return configured }
        let venv = packageRoot.appendingPathComponent(".venv/bin/python").path
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : nil
    }

    /// Runs wherever the venv exists, and always in CI (where a missing venv is a failure).
    @Test(.enabled(if: python != nil || ProcessInfo.processInfo.environment["CI"] != nil))
    func sdkGeneratesAndEditsThroughTheProxy() async throws {
        let python = try #require(Self.python, "no python venv: run `make test` (scripts/setup.sh --test)")
        try await withFixture { f in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sdk-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let image = directory.appendingPathComponent("input.png")
            let mask = directory.appendingPathComponent("mask.png")
            try TestImages.png(width: 256, height: 256, seed: "sdk-image").write(to: image)
            try TestImages.png(width: 256, height: 256, seed: "sdk-mask").write(to: mask)

            let outcome = try await ChildProcess.run(python, [
                Self.packageRoot.appendingPathComponent("Tests/sdk/sdk_check.py").path,
                f.base, f.secret, image.path, mask.path,
            ])
            let text = outcome.stdout + outcome.stderr
            #expect(outcome.status == 0, "\(text)")
            #expect(text.contains("sdk checks passed"))
            #expect(text.contains("ok cache hit served as url"))
            #expect(f.stub.received.filter { $0.path == "generations" }.count == 3, "the repeated prompt was a cache hit")
            let edits = f.stub.received.filter { $0.path == "edits" }
            #expect(edits.count == 3)
            #expect(edits.allSatisfy { $0.files.allSatisfy { $0.contentType == "image/png" } })
        }
    }
}
