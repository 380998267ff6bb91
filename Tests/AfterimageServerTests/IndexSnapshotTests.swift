import AfterimageCore
import AfterimageServer
import AfterimageTesting
import Foundation
import Testing

/// The gateway keeps its graphs across restarts: the first graph is written beside the database
/// once built, shutdown writes what changed since, and the next start searches through the
/// restored graph at once (no build), reconciled with the stored entries.
@Suite struct IndexSnapshotTests {
    static let prompts = (0..<24).map { "a \(["red", "blue", "green", "grey"][$0 % 4]) \(["kettle", "lighthouse", "heron", "bicycle", "teapot", "violin"][$0 / 4]) in a quiet room" }

    func indexStatus(_ gateway: TestGateway) async throws -> JSONValue {
        let reply = try await TestHTTP.request(.GET, "\(gateway.baseURL)/admin/cache/stats", headers: [("Authorization", "Bearer \(TestGateway.adminKey)")])
        #expect(reply.status == 200)
        return reply.json["index"] ?? .null
    }

    @Test func graphsSurviveARestartWithoutARebuild() async throws {
        let stub = StubUpstream()
        try await stub.start()
        let configure: (inout AfterimageConfiguration) -> Void = { $0.cache.annMinEntries = 20 }
        var gateway = try await TestGateway(upstream: stub, configure: configure)
        defer { try? FileManager.default.removeItem(at: gateway.dataDirectory) }
        do {
            let (_, secret) = try await gateway.createKey()
            func generate(_ prompt: String) async throws -> TestHTTP.Reply {
                try await TestHTTP.postJSON("\(gateway.baseURL)/v1/images/generations", ["model": "gpt-image-1", "prompt": .string(prompt)], key: secret)
            }
            var ids = [Int64]()
            for prompt in Self.prompts {
                let reply = try await generate(prompt)
                #expect(reply.status == 200)
                if let id = reply.json["extra_fields"]?["cache_debug"]?["cache_id"]?.stringValue.flatMap(Int64.init) { ids.append(id) }
            }
            var status = try await indexStatus(gateway)
            for _ in 0..<200 where status["graph_partitions"] != 1 || status["pending_builds"] != 0 {
                try await Task.sleep(for: .milliseconds(25))
                status = try await indexStatus(gateway)
            }
            #expect(status["graph_partitions"] == 1 && status["entries"] == 24)
            #expect(status["snapshots"]?["enabled"] == true && status["snapshots"]?["restored_partitions"] == 0)
            let directory = gateway.dataDirectory.appendingPathComponent("index-snapshots")
            let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            #expect(files.count == 1 && files.allSatisfy { $0.hasSuffix(".hnsw") }, "the build wrote its graph: \(files)")

            // One entry deleted after the build: shutdown writes the changed graph again.
            let deleted = try #require(ids.last)
            let removal = try await TestHTTP.request(.DELETE, "\(gateway.baseURL)/admin/cache/entries/\(deleted)", headers: [("Authorization", "Bearer \(TestGateway.adminKey)")])
            #expect(removal.status == 200)
            await gateway.stop()

            gateway = try await TestGateway(upstream: stub, dataDirectory: gateway.dataDirectory, configure: configure)
            status = try await indexStatus(gateway)
            #expect(status["graph_partitions"] == 1 && status["pending_builds"] == 0 && status["entries"] == 23, "\(status)")
            #expect(status["snapshots"]?["restored_partitions"] == 1 && status["snapshots"]?["restored_nodes"] == 23)
            #expect(status["snapshots"]?["dropped_nodes"] == 0 && status["snapshots"]?["rejected_files"] == 0)
            // The restored graph answers: a paraphrase of a stored prompt is a semantic hit.
            let hit = try await generate("Please generate an image of a grey kettle in a quiet room")
            #expect(hit.headers.first(name: "x-afterimage-cache") == "hit-semantic", "\(hit.json)")
            #expect(stub.servedCount == 24)
            await gateway.stop()

            // A damaged file is refused, reported and rebuilt from the rows.
            let file = directory.appendingPathComponent(try #require(files.first))
            var bytes = try Data(contentsOf: file)
            bytes[bytes.count / 2] ^= 0x5A
            try bytes.write(to: file)
            gateway = try await TestGateway(upstream: stub, dataDirectory: gateway.dataDirectory, configure: configure)
            status = try await indexStatus(gateway)
            #expect(status["snapshots"]?["restored_partitions"] == 0 && status["snapshots"]?["rejected_files"] == 1)
            #expect(status["entries"] == 23)
        } catch {
            await gateway.stop()
            await stub.stop()
            throw error
        }
        await gateway.stop()
        await stub.stop()
    }

    @Test func snapshotsCanBeSwitchedOff() async throws {
        let stub = StubUpstream()
        try await stub.start()
        let gateway = try await TestGateway(upstream: stub) { $0.cache.annMinEntries = 2; $0.cache.indexSnapshots = false }
        defer { try? FileManager.default.removeItem(at: gateway.dataDirectory) }
        let (_, secret) = try await gateway.createKey()
        for prompt in Self.prompts.prefix(4) {
            _ = try await TestHTTP.postJSON("\(gateway.baseURL)/v1/images/generations", ["model": "gpt-image-1", "prompt": .string(prompt)], key: secret)
        }
        let status = try await indexStatus(gateway)
        await gateway.stop()
        await stub.stop()
        #expect(status["snapshots"]?["enabled"] == false)
        #expect(!FileManager.default.fileExists(atPath: gateway.dataDirectory.appendingPathComponent("index-snapshots").path))
    }
}
