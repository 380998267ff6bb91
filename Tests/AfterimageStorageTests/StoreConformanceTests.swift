import AfterimageCore
import AfterimagePostgres
import AfterimageStorage
import AfterimageTesting
import Foundation
import Logging
import PostgresNIO
import Testing

/// The same behaviour from every backend: the key and namespace-limit scenarios run against
/// SQLite and against a real PostgreSQL cluster (started and stopped by the test).
@Suite final class StoreConformanceTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("afterimage-conformance-\(UUID().uuidString)")
    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Create, find, rotate, revoke, update and list through the port.
    static func exerciseKeys(_ store: any KeyStore) async throws {
        let secret = KeySecret.generate()
        let key = try await store.create(
            name: "team a", namespace: nil, allowedModels: ["gpt-image-1"], expiresAt: nil,
            limits: SpendLimits(budget: Money(usd: "2.5"), requestsPerMinute: 30), secret: secret
        )
        #expect(key.namespace == key.id && key.secretHash == KeySecret.hash(secret))
        let found = try #require(try await store.find(secretHash: KeySecret.hash(secret)))
        #expect(found.id == key.id && found.allowedModels == ["gpt-image-1"] && found.limits == key.limits && found.unreadable == nil)
        #expect(abs(found.createdAt.timeIntervalSince(key.createdAt)) < 0.001)
        #expect(try await store.find(secretHash: KeySecret.hash("sk-af-other")) == nil)

        let newSecret = KeySecret.generate()
        let rotated = try #require(try await store.rotate(id: key.id, newSecret: newSecret))
        #expect(rotated.rotatedAt != nil && rotated.prefix == KeySecret.displayPrefix(newSecret))
        #expect(try await store.find(secretHash: KeySecret.hash(secret)) == nil)
        #expect(try await store.find(secretHash: KeySecret.hash(newSecret))?.id == key.id)

        let expiry = Date(timeIntervalSince1970: 1_900_000_000)
        let updated = try #require(try await store.update(id: key.id, changes: KeyChanges(name: "team b", allowedModels: .some(nil), expiresAt: .some(expiry), limits: LimitChanges(budget: .some(nil)))))
        #expect(updated.name == "team b" && updated.allowedModels == nil && updated.expiresAt == expiry && updated.limits.budget == nil && updated.limits.requestsPerMinute == 30)
        #expect(try await store.get(id: key.id)?.name == "team b")

        let revoked = try #require(try await store.revoke(id: key.id))
        #expect(revoked.revokedAt != nil && !revoked.isActive(at: Date()))
        let second = try await store.create(name: "z", namespace: "shared", allowedModels: [], expiresAt: nil, secret: KeySecret.generate())
        #expect(try await store.list().map(\.id).sorted() == [key.id, second.id].sorted())
        #expect(try await store.get(id: second.id)?.allowedModels == [])
        #expect(try await store.revoke(id: "key_missing") == nil)
        #expect(try await store.update(id: "key_missing", changes: KeyChanges(name: "x")) == nil)
    }

    static func exerciseNamespaceLimits(_ store: any NamespaceLimitStore) async throws {
        #expect(try await store.limits(namespace: "team") == SpendLimits())
        let set = try await store.update(namespace: "team", changes: LimitChanges(budget: .some(Money(usd: "10")), imagesPerMinute: .some(5)))
        #expect(set.budget == Money(usd: "10") && set.imagesPerMinute == 5)
        let cleared = try await store.update(namespace: "team", changes: LimitChanges(imagesPerMinute: .some(nil)))
        #expect(cleared.budget == Money(usd: "10") && cleared.imagesPerMinute == nil)
        #expect(try await store.limits(namespace: "team") == cleared)
        #expect(try await store.list().map(\.namespace) == ["team"])
    }

    static func exerciseCacheSettings(_ store: any CacheSettingsStore) async throws {
        let (initial, empty) = try await store.load()
        #expect(initial == 0 && empty.isEmpty)
        let scope = CacheSettingScope(namespace: "team", model: nil)
        let changes = try await store.update(scope, threshold: .some(0.9), wordSimilarity: .some(0.6), by: "alice")
        #expect(changes.map(\.field) == ["threshold", "word_similarity"] && changes.allSatisfy { $0.by == "alice" && $0.old == nil })
        #expect(try await store.update(scope, threshold: .some(0.9), wordSimilarity: nil, by: "bob").isEmpty, "no change, no audit row")
        let (version, settings) = try await store.load()
        #expect(version == 2 && settings[scope] == CacheSettingValues(threshold: 0.9, wordSimilarity: 0.6))
        _ = try await store.update(scope, threshold: .some(nil), wordSimilarity: .some(nil), by: "carol")
        #expect(try await store.load().settings.isEmpty)
        let history = try await store.history(limit: 10)
        #expect(history.count == 4 && history.first?.by == "carol" && history.last?.field == "threshold")
        #expect(history.first?.scope == scope)
    }

    /// A ring buffer of 3 rows: filters, newest first, labels.
    static func exerciseLookupLog(_ log: any LookupLog) async throws {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for index in 0..<5 {
            try await log.append(LookupLogEntry(
                createdAt: start.addingTimeInterval(Double(index)), requestID: "req_\(index)", namespace: index.isMultiple(of: 2) ? "a" : "b", model: "gpt-image-1",
                prompt: "prompt \(index)", promptHash: "h\(index)", candidateID: index == 0 ? nil : Int64(index), candidatePrompt: index == 0 ? nil : "cand",
                candidateHash: nil, similarity: index == 0 ? nil : 0.9, refusedBy: index == 3 ? .antonym("left", "right") : nil,
                decision: index == 4 ? .semantic : .miss, threshold: 0.85, candidateCost: Money(nanos: 42)
            ))
        }
        let all = try await log.entries(namespace: nil, since: nil, limit: 10)
        #expect(all.map(\.requestID) == ["req_4", "req_3", "req_2"], "at most 3 rows, newest first")
        #expect(all[1].refusedBy == .antonym("left", "right") && all[0].decision == .semantic && all[0].candidateCost == Money(nanos: 42))
        #expect(try await log.entries(namespace: "a", since: nil, limit: 10).map(\.requestID) == ["req_4", "req_2"])
        #expect(try await log.entries(namespace: nil, since: start.addingTimeInterval(3), limit: 10).map(\.requestID) == ["req_4", "req_3"])
        let id = try #require(all[2].id)
        #expect(try await log.label(id: id, label: .different, by: "alice"))
        #expect(try await !log.label(id: 999_999, label: .same, by: "alice"))
        let labelled = try await log.entries(namespace: nil, since: nil, limit: 10).first { $0.id == id }
        #expect(labelled?.label == .different && labelled?.labelledBy == "alice")
    }

    /// The same 60 rows (written concurrently: group commit) in any backend give the same row
    /// reads, spend, reports and export; returns the reports for comparison across backends.
    static func exerciseLedger(_ ledger: any UsageLedgerStore) async throws -> [UsageReport] {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let rows: [UsageRecord] = (0..<60).map { index in
            var r = UsageRecord(requestID: "req_\(index)", createdAt: start.addingTimeInterval(Double(index) * 3600), endpoint: index.isMultiple(of: 3) ? .edits : .generations, status: index % 10 == 9 ? 429 : 200)
            (r.keyID, r.keyName, r.namespace) = ("key_\(index % 3)", "team \(index % 3)", "ns\(index % 2)")
            (r.provider, r.modelRequested, r.modelUsed) = ("openai", "gpt-image-1", index % 4 == 0 ? nil : "gpt-image-1-mini")
            r.cache = [CacheOutcome.miss, .direct, .semantic, .bypass][index % 4]
            r.similarity = index % 4 == 2 ? 0.91 : nil
            (r.images, r.size, r.quality) = (1 + index % 2, "1024x1024", "low")
            (r.textInputTokens, r.imageOutputTokens, r.textOutputTokens) = (20 + index, 272, index % 5)
            r.cost = index % 7 == 0 ? nil : Money(nanos: Int64(10_980_000 + index))
            r.saved = Money(nanos: Int64(index % 4 == 1 ? 5_000 : 0))
            (r.latencyMs, r.upstreamLatencyMs, r.usageSource, r.priceVersion) = (100 + index, index % 4 == 0 ? 80 : nil, "upstream", "abc123")
            r.attempts = index % 5 == 0 ? ["http_503", "ok"] : []
            r.costEstimated = index % 6 == 0
            return r
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for row in rows { group.addTask { try await ledger.record(row) } }
            try await group.waitForAll()
        }
        #expect(try await ledger.row(requestID: "req_5") == rows[5])
        #expect(try await ledger.row(requestID: "req_missing") == nil)
        let spent = rows.filter { $0.keyID == "key_1" }.compactMap(\.cost).reduce(Money.zero, +)
        #expect(try await ledger.spent(keyID: "key_1", namespace: nil, since: start) == spent)
        var exported = [UsageRecord]()
        try await ledger.export(from: start, to: start.addingTimeInterval(60 * 3600), pageSize: 7) { exported += $0 }
        // Commit order (the rows were written concurrently): every row once, in pages of 7.
        #expect(exported.map(\.requestID).sorted() == rows.map(\.requestID).sorted() && Set(exported.map(\.requestID)).count == rows.count)
        try await ledger.recordUnauthenticated([UnauthenticatedCount(minute: start, source: "10.0.0.1", count: 3)])
        try await ledger.recordUnauthenticated([UnauthenticatedCount(minute: start, source: "10.0.0.1", count: 2)])
        #expect(try await ledger.unauthenticatedCount(since: start) == 5)
        var reports = [UsageReport]()
        for groupBy in [[], [UsageDimension.key], [.day, .model], [.namespace, .endpoint]] {
            let report = try await ledger.report(from: start, to: start.addingTimeInterval(30 * 3600), groupBy: groupBy)
            #expect(report.total.requests == 30 && report.rows.reduce(0) { $0 + $1.totals.requests } == (groupBy.isEmpty ? 0 : 30))
            reports.append(report)
        }
        return reports
    }

    @Test func sqliteBehavesAsSpecified() async throws {
        let database = try AppDatabase.open(dataDirectory: directory)
        try await Self.exerciseKeys(SQLiteKeyStore(database: database))
        try await Self.exerciseNamespaceLimits(SQLiteNamespaceLimitStore(database: database))
        try await Self.exerciseCacheSettings(SQLiteCacheSettingsStore(database: database))
        try await Self.exerciseLookupLog(SQLiteLookupLog(database: database, maxRows: 3))
        _ = try await Self.exerciseLedger(SQLiteUsageLedger(database: database))
        try await Self.exerciseCache(SQLiteCacheStore(database: database), blobs: try FileBlobStore(database: database, dataDirectory: directory))
    }

    static func entry(_ prompt: String, images: [StoredImage], now: Date, namespace: String = "team", vector: [Float] = [1, 0, 0, 0]) -> CacheEntry {
        CacheEntry(
            namespace: namespace, partitionKey: String(repeating: "p", count: 64), directKey: Data(prompt.utf8).sha256Hex, prompt: prompt,
            normalizedPrompt: prompt, embedding: vector, embeddingModel: "test", endpoint: .generations, provider: "openai", model: "gpt-image-1",
            response: ["created": 1], images: images, imageExtras: images.map { _ in ["revised_prompt": "x"] },
            createdAt: now, expiresAt: now.addingTimeInterval(3600), cost: Money(nanos: 42_265_000)
        )
    }

    /// Blobs, entries, hits, LRU eviction, purge and stats through the ports.
    static func exerciseCache(_ store: any CacheStore, blobs: any BlobStore) async throws {
        let now = Date()
        let png = TestImages.png(width: 8, height: 8, seed: "conformance")
        let info = try #require(ImageInfo.read(png))
        let image = try await blobs.put(png, info: info)
        #expect(try await blobs.put(png, info: info) == image)
        let (stored, bytes) = try #require(try await blobs.get(id: image.id))
        #expect(stored == image && bytes == png)
        #expect(try await blobs.get(id: String(repeating: "0", count: 64)) == nil)
        #expect(try await blobs.get(id: "../../etc/passwd") == nil)

        let (first, replacedNone) = try await store.insert(entry("a red fox", images: [image], now: now))
        #expect(replacedNone == nil)
        let (second, replaced) = try await store.insert(entry("a red fox", images: [image], now: now))
        #expect(replaced?.id == first && second != first)
        let found = try #require(try await store.findDirect(namespace: "team", partitionKey: String(repeating: "p", count: 64), directKey: Data("a red fox".utf8).sha256Hex, now: now))
        #expect(found.id == second && found.images == [image] && found.embedding == [1, 0, 0, 0] && found.cost == Money(nanos: 42_265_000))
        #expect(found.imageExtras == [["revised_prompt": "x"]] && found.response["created"] == 1)
        #expect(try await store.get(id: first, now: now) == nil)
        #expect(try await store.get(id: second, now: now.addingTimeInterval(7200)) == nil, "expired entries are not served")
        // The narrow reads of the hit path agree with the full ones.
        let directKey = Data("a red fox".utf8).sha256Hex, partition = String(repeating: "p", count: 64)
        #expect(try await store.findDirectID(namespace: "team", partitionKey: partition, directKey: directKey, now: now) == second)
        #expect(try await store.findDirectID(namespace: "team", partitionKey: partition, directKey: directKey, now: now.addingTimeInterval(7200)) == nil)
        #expect(try await store.findDirectID(namespace: "other", partitionKey: partition, directKey: directKey, now: now) == nil)
        let secondLive = try await store.isLive(id: second, now: now), firstLive = try await store.isLive(id: first, now: now)
        #expect(secondLive && !firstLive)
        #expect(try await store.liveIDs([first, second, -1, Int64.max], now: now) == [second])
        #expect(try await store.liveIDs([], now: now).isEmpty)
        #expect(try await store.liveIDs([second], now: now.addingTimeInterval(7200)).isEmpty)
        #expect(try await store.liveIDs(Array(repeating: second, count: 200) + (1...150).map { Int64($0) * 1_000_000 }, now: now) == [second], "long id lists are read in bounded chunks")
        // Re-ranking reads: the stored vectors of the live ones only.
        #expect(try await store.liveVectors([first, second, -1], now: now) == [second: [1, 0, 0, 0]])
        #expect(try await store.liveVectors([], now: now).isEmpty)
        #expect(try await store.liveVectors([second], now: now.addingTimeInterval(7200)).isEmpty)
        #expect(try await store.liveVectors(Array(repeating: second, count: 100) + (1...100).map { Int64($0) * 1_000_000 }, now: now) == [second: [1, 0, 0, 0]])
        try await store.insert(contentsOf: [entry("a blue car", images: [], now: now.addingTimeInterval(1)), entry("a green tree", images: [], now: now.addingTimeInterval(2), namespace: "other")])
        #expect(try await store.vectors(now: now).count == 3)
        // Paged in id order; hostile limits are clamped.
        let firstTwo = try await store.vectors(now: now, after: 0, limit: 2)
        #expect(firstTwo.count == 2 && firstTwo[0].id < firstTwo[1].id)
        #expect(try await store.vectors(now: now, after: firstTwo[1].id, limit: 2).count == 1)
        #expect(try await store.vectors(now: now, after: 0, limit: -5).count == 1)
        #expect(try await store.vectors(now: now, after: Int64.max, limit: Int.max).isEmpty)
        try await store.recordHit(id: second, kind: .direct, at: now.addingTimeInterval(10))
        // Batched hits: one transaction; an entry that is gone is skipped, not an error.
        try await store.recordHits([CacheHit(id: second, kind: .semantic, at: now.addingTimeInterval(11)), CacheHit(id: first, kind: .direct, at: now)])
        var stats = try await store.stats(now: now)
        #expect(stats.total.entries == 3 && stats.total.directHits == 1 && stats.total.semanticHits == 1 && stats.total.misses == 2 && stats.byNamespace.map(\.name) == ["other", "team"])
        let firstPage = try await store.entries(after: 0, limit: 2)
        let rest = try await store.entries(after: second, limit: 10)
        #expect(firstPage.count == 2 && rest.count == 2)
        // LRU: the fox was hit last, so the car and the tree go first.
        let (evicted, remaining) = try await store.evict(maxEntries: 1, maxBytes: Int.max, now: now)
        #expect(evicted.count == 2 && remaining.entries == 1 && !evicted.contains { $0.id == second })
        #expect(try await blobs.sweepUnreferenced(unusedSince: now.addingTimeInterval(3600)).images == 0, "a referenced image stays")
        #expect(try await store.purge(CachePurgeFilter(namespace: "team")).map(\.id) == [second])
        #expect(try await blobs.sweepUnreferenced(unusedSince: now.addingTimeInterval(3600)).images == 1)
        #expect(try await blobs.get(id: image.id) == nil)
        stats = try await store.stats(now: now)
        #expect(stats.total.entries == 0 && stats.total.misses == 2, "counters outlive purges")
    }

    /// Another process's inserts and deletes arrive in order, with the vectors.
    static func exerciseChangeFeed(_ feed: any CacheChangeFeed, store: any CacheStore) async throws {
        let start = try await feed.position()
        let (id, _) = try await store.insert(entry("a feed entry", images: [], now: Date(), vector: [0, 1, 0, 0]))
        _ = try await store.delete(id: id)
        let changes = try #require(try await feed.changes(after: start, gaps: [], limit: 10))
        #expect(changes.map(\.kind) == [.insert, .delete] && changes.allSatisfy { $0.ref.id == id })
        #expect(changes[0].embedding == nil, "the row is gone: nothing to index")
        #expect(try await feed.changes(after: changes[1].seq, gaps: [changes[0].seq], limit: 10)?.map(\.seq) == [changes[0].seq])
        try await feed.prune(olderThan: Date().addingTimeInterval(60))
        #expect(try await feed.changes(after: start, gaps: [], limit: 10) == nil, "a follower behind the pruned feed reloads")
    }

    @Test func postgresBehavesLikeSQLite() async throws {
        let (url, cluster) = try await PostgresCluster.testDatabase()
        do {
            try await withPostgres(url) { database in
                // Two replicas starting together: the advisory lock lets one apply the migrations.
                async let first = database.migrate()
                async let second = database.migrate()
                let applied = try await [first, second]
                #expect(applied.flatMap { $0 } == PostgresBackend.schemaVersions && PostgresBackend.schemaVersions.count >= 7)
                #expect(try await database.migrate().isEmpty)
                #expect(await database.isReachable())
                try await Self.exerciseKeys(PostgresKeyStore(database: database))
                try await Self.exerciseNamespaceLimits(PostgresNamespaceLimitStore(database: database))
                try await Self.exerciseCacheSettings(PostgresCacheSettingsStore(database: database))
                try await Self.exerciseLookupLog(PostgresLookupLog(database: database, maxRows: 3))
                try await Self.exerciseCache(PostgresCacheStore(database: database), blobs: PostgresBlobStore(database: database, diskCache: nil))
                try await Self.exerciseChangeFeed(PostgresCacheChangeFeed(database: database), store: PostgresCacheStore(database: database))
                // The same rows give the same reports as SQLite, to the nano-dollar.
                let sqlite = try await Self.exerciseLedger(SQLiteUsageLedger(database: try AppDatabase.open(dataDirectory: directory.appendingPathComponent("compare"))))
                let postgres = try await Self.exerciseLedger(PostgresUsageLedger(database: database))
                #expect(postgres == sqlite)
                // A row whose model list does not decode is refused (fail closed), as in SQLite.
                let store = PostgresKeyStore(database: database)
                let key = try await store.create(name: "broken", namespace: nil, allowedModels: ["a"], expiresAt: nil, secret: KeySecret.generate())
                try await database.client.query("UPDATE virtual_keys SET allowed_models = '[1' WHERE id = \(key.id)")
                #expect(try await store.get(id: key.id)?.unreadable == "allowed_models")
                // Constraints live in the database: an oversized name is refused there too.
                await #expect(throws: (any Error).self) {
                    try await database.client.query("UPDATE virtual_keys SET name = \(String(repeating: "n", count: 300)) WHERE id = \(key.id)")
                }
            }
        } catch {
            await cluster?.stop()
            throw error
        }
        await cluster?.stop()
    }

    @Test(arguments: ["", "mysql://u@h/db", "postgres://h/db", "postgres://u@/db", "postgres://u@h", "postgres://u@h:99999/db", "postgres://u@h/" + String(repeating: "d", count: 3000)])
    func badURLsAreRefused(url: String) {
        #expect(throws: AfterimageError.self) { try PostgresSettings(url: url).endpoint() }
    }

    /// Runs `body` with a migrated-or-not database (its pool runs from `init`), then closes it.
    func withPostgres(_ url: String, _ body: (PostgresBackend) async throws -> Void) async throws {
        // A generous deadline: on a loaded 2-core runner one operation has taken over 5 s; this test
        // checks behaviour, the outage tests check deadlines.
        let database = try PostgresBackend(settings: PostgresSettings(url: url, poolSize: 4, tls: .disable, operationTimeoutMs: 30_000), logger: Logger(label: "pg-test"))
        defer { database.shutdown() }
        try await body(database)
    }
}
