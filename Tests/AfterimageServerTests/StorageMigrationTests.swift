import AfterimageCore
import AfterimageServer
import AfterimageTesting
import Foundation
import Testing

/// `afterimage storage migrate --from sqlite --to postgres` on a data directory with keys, 1,000
/// ledger rows, cache entries and images: counts and totals equal, keys still authenticate, hits
/// still served — and a second run changes nothing.
@Suite struct StorageMigrationTests {
    @Test func aDataDirectoryMovesIntoPostgres() async throws {
        try CommandLineTests.requireBinary()
        let stub = StubUpstream()
        try await stub.start()
        let sqlite = try await TestGateway(upstream: stub) { configuration in
            configuration.storage.backend = .sqlite
            configuration.files.backend = .local
        }
        let (key, secret) = try await sqlite.createKey(name: "finance", limits: SpendLimits(budget: Money(usd: "50")))
        let prompts = ["a lighthouse at dawn", "a red fox in snow", "a bowl of ramen"]
        for prompt in prompts {
            let reply = try await TestHTTP.postJSON("\(sqlite.baseURL)/v1/images/generations", ["model": "gpt-image-1", "prompt": .string(prompt)], key: secret)
            #expect(reply.status == 200)
        }
        // 1,000 more rows with odd costs (the total must survive to the nano-dollar).
        let start = Date().addingTimeInterval(-86_400)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<1000 {
                group.addTask {
                    var row = UsageRecord(requestID: "seed-\(index)", createdAt: start.addingTimeInterval(Double(index)), endpoint: .generations)
                    (row.keyID, row.keyName, row.namespace, row.status, row.images) = (key.id, key.name, key.namespace, 200, 1)
                    row.cost = Money(nanos: Int64(1_000_003 + index * 7))
                    try await sqlite.stores.ledger.record(row)
                }
            }
            try await group.waitForAll()
        }
        _ = try await sqlite.stores.cacheSettings.update(CacheSettingScope(namespace: key.namespace, model: nil), threshold: .some(0.9), wordSimilarity: nil, by: "test")
        // Alert claims: one delivered (never sent again after the move), one whose sender died
        // with its text kept (sent again from the new backend once its lease lapsed).
        let claimed = Date().addingTimeInterval(-3_600)
        #expect(try await sqlite.stores.alerts.claim("budget:finance:80", alert: nil, raisedAt: claimed, now: claimed, lease: 600))
        try await sqlite.stores.alerts.markDelivered("budget:finance:80", at: claimed)
        #expect(try await sqlite.stores.alerts.claim("budget:finance:100", alert: "{\"kept\": true}", raisedAt: claimed, now: claimed, lease: 600))
        await sqlite.stop()

        let (url, own) = try await PostgresCluster.testDatabase()
        let environment = ["PATH": "/usr/bin:/bin", "AFTERIMAGE_DATA_DIR": sqlite.dataDirectory.path]
        let arguments = ["storage", "migrate", "--from", "sqlite", "--to", "postgres", "--database-url", url]
        let first = try await ChildProcess.run(CommandLineTests.binary, arguments, environment: environment, directory: FileManager.default.temporaryDirectory)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("complete"))
        let again = try await ChildProcess.run(CommandLineTests.binary, arguments, environment: environment, directory: FileManager.default.temporaryDirectory)
        #expect(again.status == 0 && again.stdout.contains("complete"), "\(again.stderr)")
        #expect(first.stdout.split(separator: "\n").last { $0.hasPrefix("target:") } == again.stdout.split(separator: "\n").last { $0.hasPrefix("target:") }, "a second run adds nothing")
        let wrong = try await ChildProcess.run(CommandLineTests.binary, ["storage", "migrate", "--from", "postgres", "--to", "sqlite"], environment: environment, directory: FileManager.default.temporaryDirectory)
        #expect(wrong.status != 0)

        let postgres = try await TestGateway(upstream: stub, databaseURL: url)
        let source = try await sqlite.stores.census.census()
        let target = try await postgres.stores.census.census()
        #expect(source.ledgerRows == 1003 && target.ledgerRows == source.ledgerRows && target.ledgerCostNanos == source.ledgerCostNanos)
        #expect(target.keys == source.keys && target.cacheEntries == 3 && target.images == 3 && target.cacheSettings == 1)
        #expect(try await !postgres.stores.alerts.claim("budget:finance:80", now: Date(), lease: 600), "delivered before the move")
        let lapsed = try await postgres.stores.alerts.lapsed(now: Date(), lease: 600, raisedSince: claimed.addingTimeInterval(-1), limit: 10)
        #expect(lapsed.map(\.key) == ["budget:finance:100"] && lapsed.first?.alert == "{\"kept\": true}")
        // The old secret works, and the copied entries are hits.
        for prompt in prompts {
            let hit = try await TestHTTP.postJSON("\(postgres.baseURL)/v1/images/generations", ["model": "gpt-image-1", "prompt": .string(prompt)], key: secret)
            #expect(hit.status == 200 && hit.headers.first(name: "x-afterimage-cache") == "hit-direct")
        }
        #expect(stub.servedCount == 3)
        await postgres.stop()
        await stub.stop()
        await own?.stop()
    }
}
