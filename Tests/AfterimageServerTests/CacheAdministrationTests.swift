import AfterimageCore
import AfterimageTesting
import Foundation
import Testing

/// Size limits, the sweeper, stats and purges — through the admin API and the CLI, on a live server.
@Suite struct CacheAdministrationTests {
    func cacheHeader(_ reply: TestHTTP.Reply) -> String? { reply.headers.first(name: "x-afterimage-cache") }

    @Test func evictionBySizeDropsTheLeastRecentlyUsedEntry() async throws {
        try await withFixture(configure: { $0.cache.maxEntries = 2 }) { f in
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a lighthouse"])
            try await Task.sleep(for: .milliseconds(20))
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a violin"])
            try await Task.sleep(for: .milliseconds(20))
            #expect(cacheHeader(try await f.generate(["model": "gpt-image-1", "prompt": "a lighthouse"])) == "hit-direct")
            try await Task.sleep(for: .milliseconds(20))
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a cactus"])
            let stats = try await f.admin(.GET, "/admin/cache/stats")
            #expect(stats.json["entries"] == 2)
            #expect(cacheHeader(try await f.generate(["model": "gpt-image-1", "prompt": "a lighthouse"])) == "hit-direct")
            #expect(cacheHeader(try await f.generate(["model": "gpt-image-1", "prompt": "a cactus"])) == "hit-direct")
            #expect(cacheHeader(try await f.generate(["model": "gpt-image-1", "prompt": "a violin"])) == "miss", "the least recently used entry went")
            #expect(f.stub.servedCount == 4)
        }
    }

    @Test func statsPurgesAndDeletesThroughTheAdminAPI() async throws {
        try await withFixture { f in
            #expect(try await f.admin(.GET, "/admin/cache/stats", key: "wrong").status == 401)
            let miss = try await f.generate(["model": "gpt-image-1", "prompt": "a grey cat on a bookshelf"])
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a grey cat on a bookshelf"])
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a gray cat on a bookshelf"])
            _ = try await f.generate(["model": "dall-e-2", "prompt": "a harbour", "size": "256x256"])
            let stats = try await f.admin(.GET, "/admin/cache/stats")
            #expect(stats.status == 200)
            #expect(stats.json["object"] == "cache.stats")
            #expect(stats.json["entries"] == 2 && stats.json["misses"] == 2)
            #expect(stats.json["direct_hits"] == 1 && stats.json["semantic_hits"] == 1 && stats.json["hit_rate"] == .number(0.5))
            #expect((stats.json["bytes"]?.integerValue ?? 0) > 0)
            let namespaces = stats.json["by_namespace"]?.arrayValue ?? []
            #expect(namespaces.count == 1 && namespaces.first?["namespace"]?.stringValue == f.key.namespace)
            #expect(Set(stats.json["by_model"]?.arrayValue?.compactMap { $0["model"]?.stringValue } ?? []) == ["gpt-image-1", "dall-e-2"])

            #expect(try await f.admin(.DELETE, "/admin/cache/entries?older_than=soon").errorParam == "older_than")
            #expect(try await f.admin(.DELETE, "/admin/cache/entries?colour=red").errorParam == "colour")
            #expect(try await f.admin(.DELETE, "/admin/cache/entries?older_than=1d").json["deleted"] == 0)
            let byModel = try await f.admin(.DELETE, "/admin/cache/entries?model=dall-e-2&namespace=\(f.key.namespace)")
            #expect(byModel.json["deleted"] == 1)

            let id = try #require(miss.json["extra_fields"]?["cache_debug"]?["cache_id"]?.stringValue)
            #expect(try await f.admin(.DELETE, "/admin/cache/entries/\(id)").json["deleted"] == true)
            #expect(try await f.admin(.DELETE, "/admin/cache/entries/\(id)").status == 404)
            #expect(try await f.admin(.DELETE, "/admin/cache/entries/not-a-number").status == 404)
            // Gone from SQLite and from the index: neither a direct nor a semantic hit.
            #expect(cacheHeader(try await f.generate(["model": "gpt-image-1", "prompt": "a gray cat on a bookshelf"])) == "miss")
            #expect(try await f.admin(.GET, "/admin/cache/stats").json["entries"] == 1)
        }
    }

    @Test
    func purgeByTheCLIWhileTheServerRuns() async throws {
        try CommandLineTests.requireBinary()
        try await withFixture { f in
            let environment = f.gateway.cliEnvironment.merging(["PATH": "/usr/bin:/bin"]) { $1 }
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a grey stone bridge"])
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a wooden rowing boat"], key: try await f.gateway.createKey(name: "other").1)
            let stats = try await ChildProcess.run(CommandLineTests.binary, ["cache", "stats", "--json"], environment: environment, directory: FileManager.default.temporaryDirectory)
            #expect(stats.status == 0, "\(stats.stderr)")
            #expect(try JSONDecoder().decode(JSONValue.self, from: Data(stats.stdout.utf8))["entries"] == 2)
            let table = try await ChildProcess.run(CommandLineTests.binary, ["cache", "stats"], environment: environment, directory: FileManager.default.temporaryDirectory)
            #expect(table.stdout.contains("by namespace") && table.stdout.contains(f.key.namespace))

            #expect(try await ChildProcess.run(CommandLineTests.binary, ["cache", "purge", "--older-than", "later"], environment: environment, directory: FileManager.default.temporaryDirectory).status != 0)
            let purged = try await ChildProcess.run(CommandLineTests.binary, ["cache", "purge", "--namespace", f.key.namespace], environment: environment, directory: FileManager.default.temporaryDirectory)
            #expect(purged.status == 0 && purged.stdout.contains("deleted 1 cache entry"), "\(purged.stdout)\(purged.stderr)")
            // The server's index still holds the vector; the row is gone, so it must not be served.
            #expect(cacheHeader(try await f.generate(["model": "gpt-image-1", "prompt": "a gray stone bridge"])) == "miss")
            #expect(cacheHeader(try await f.generate(["model": "gpt-image-1", "prompt": "a gray stone bridge"])) == "hit-direct")
            #expect(f.stub.servedCount == 3)
        }
    }

    @Test func sweeperDeletesExpiredEntries() async throws {
        try await withFixture(configure: { $0.cache.sweepIntervalSeconds = 1 }) { f in
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a soap bubble"], headers: [("x-afterimage-cache-ttl", "1")])
            _ = try await f.generate(["model": "gpt-image-1", "prompt": "a granite boulder"])
            var stats = JSONValue.null
            for _ in 0..<100 {
                try await Task.sleep(for: .milliseconds(200))
                stats = try await f.admin(.GET, "/admin/cache/stats").json
                if stats["entries"] == 1 && stats["expired_entries"] == 0 { break }
            }
            #expect(stats["entries"] == 1 && stats["expired_entries"] == 0, "\(stats)")
        }
    }

    @Test func namespaceOverridesThresholdAndTTL() async throws {
        try await withFixture(configure: { config in
            config.cache.namespaces["strict"] = .init(threshold: 0.999, ttlSeconds: 1)
        }) { f in
            let (_, strict) = try await f.gateway.createKey(name: "strict team", namespace: "strict")
            func threshold(_ reply: TestHTTP.Reply) -> Double? { reply.json["extra_fields"]?["cache_debug"]?["threshold"]?.doubleValue }
            let first = try await f.generate(["model": "gpt-image-1", "prompt": "a grey cat on a bookshelf"], key: strict)
            #expect(threshold(first).map { abs($0 - 0.999) < 1e-6 } == true)
            // Stored (no timing window asserted: only that it is gone after its 1 s TTL).
            #expect(try await f.admin(.GET, "/admin/cache/stats").json["misses"] == 1)
            try await Task.sleep(for: .milliseconds(1500))
            #expect(cacheHeader(try await f.generate(["model": "gpt-image-1", "prompt": "a grey cat on a bookshelf"], key: strict)) == "miss", "1 s TTL")
            // The default namespace keeps the defaults.
            let other = try await f.generate(["model": "gpt-image-1", "prompt": "a grey cat on a bookshelf"])
            #expect(threshold(other).map { abs($0 - 0.60) < 1e-6 } == true)
            try await Task.sleep(for: .milliseconds(1500))
            #expect(cacheHeader(try await f.generate(["model": "gpt-image-1", "prompt": "a grey cat on a bookshelf"])) == "hit-direct")
        }
    }
}
