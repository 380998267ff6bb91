import AfterimageCore
import AfterimageStorage
import AfterimageTesting
import Foundation
import GRDB
import Testing

@Suite final class CacheStoreTests {
    /// Each test's scratch directory, removed when the test ends.
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("afterimage-cache-store-\(UUID().uuidString)")
    deinit { try? FileManager.default.removeItem(at: scratch) }

    struct Setup {
        let database: AppDatabase
        let directory: URL
        let store: SQLiteCacheStore
        let blobs: FileBlobStore
    }

    func setUp() throws -> Setup {
        let directory = scratch
        let database = try AppDatabase.open(dataDirectory: directory)
        return Setup(database: database, directory: directory, store: SQLiteCacheStore(database: database), blobs: try FileBlobStore(database: database, dataDirectory: directory))
    }

    func entry(
        _ prompt: String, namespace: String = "ns", model: String = "gpt-image-1", images: [StoredImage] = [],
        created: Date = Date(), ttl: TimeInterval = 3600
    ) -> CacheEntry {
        CacheEntry(
            namespace: namespace, partitionKey: "p", directKey: prompt, prompt: prompt, normalizedPrompt: prompt,
            embedding: nil, embeddingModel: nil, endpoint: .generations, provider: "openai", model: model,
            response: [:], images: images, imageExtras: images.map { _ in [:] }, createdAt: created, expiresAt: created.addingTimeInterval(ttl)
        )
    }

    func image(_ s: Setup, seed: String, width: Int = 64) async throws -> StoredImage {
        let data = TestImages.png(width: width, height: width, seed: seed)
        return try await s.blobs.put(data, info: try #require(ImageInfo.read(data)))
    }

    @Test func evictionByBytesDropsLeastRecentlyUsedFirst() async throws {
        let s = try setUp()
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let a = try await image(s, seed: "a"), b = try await image(s, seed: "b"), c = try await image(s, seed: "c")
        let idA = try await s.store.insert(entry("a", images: [a], created: t0)).id
        let idB = try await s.store.insert(entry("b", images: [b], created: t0.addingTimeInterval(1))).id
        let idC = try await s.store.insert(entry("c", images: [c], created: t0.addingTimeInterval(2))).id
        // A was hit last: B is now the least recently used, then C.
        try await s.store.recordHit(id: idA, kind: .direct, at: t0.addingTimeInterval(3))
        let now = t0.addingTimeInterval(4)
        let limit = a.byteCount + c.byteCount
        let (deleted, remaining) = try await s.store.evict(maxEntries: 10, maxBytes: limit, now: now)
        #expect(deleted.map(\.id) == [idB])
        #expect(remaining == CacheTotals(entries: 2, bytes: limit))
        #expect(try await s.store.get(id: idA, now: now) != nil)
        #expect(try await s.store.get(id: idC, now: now) != nil)

        let (byCount, left) = try await s.store.evict(maxEntries: 1, maxBytes: .max, now: now)
        #expect(byCount.map(\.id) == [idC])
        #expect(left.entries == 1)
        #expect(try await s.store.evict(maxEntries: 1, maxBytes: .max, now: now).deleted.isEmpty)
    }

    @Test func purgeFiltersByNamespaceModelAndAge() async throws {
        let s = try setUp()
        let now = Date()
        _ = try await s.store.insert(entry("old", created: now.addingTimeInterval(-10 * 86_400), ttl: 30 * 86_400))
        _ = try await s.store.insert(entry("new"))
        _ = try await s.store.insert(entry("mini", model: "gpt-image-1-mini"))
        _ = try await s.store.insert(entry("other", namespace: "team-b"))
        #expect(try await s.store.purge(CachePurgeFilter(createdBefore: now.addingTimeInterval(-7 * 86_400))).count == 1)
        #expect(try await s.store.purge(CachePurgeFilter(namespace: "ns", model: "gpt-image-1-mini")).count == 1)
        #expect(try await s.store.purge(CachePurgeFilter(namespace: "nobody")).isEmpty)
        let stats = try await s.store.stats(now: now)
        #expect(stats.total.entries == 2)
        #expect(stats.byNamespace.map(\.name) == ["ns", "team-b"])
        #expect(try await s.store.purge(CachePurgeFilter()).count == 2)
        #expect(try await s.store.totals(now: now) == CacheTotals(entries: 0, bytes: 0))
    }

    @Test func statsCountHitsByTypeAndSurvivePurges() async throws {
        let s = try setUp()
        let now = Date()
        let id = try await s.store.insert(entry("a", images: [try await image(s, seed: "x")])).id
        _ = try await s.store.insert(entry("b", namespace: "team-b", model: "dall-e-2"))
        try await s.store.recordHit(id: id, kind: .direct, at: now)
        try await s.store.recordHit(id: id, kind: .semantic, at: now)
        try await s.store.recordHit(id: id, kind: .semantic, at: now)
        var stats = try await s.store.stats(now: now)
        #expect(stats.total.entries == 2 && stats.total.directHits == 1 && stats.total.semanticHits == 2 && stats.total.misses == 2)
        #expect(stats.total.hitRate == 0.6)
        let ns = try #require(stats.byNamespace.first { $0.name == "ns" })
        #expect(ns.entries == 1 && ns.hits == 3 && ns.misses == 1 && ns.bytes > 0)
        #expect(stats.byModel.map(\.name) == ["dall-e-2", "gpt-image-1"])
        _ = try await s.store.purge(CachePurgeFilter())
        stats = try await s.store.stats(now: now)
        #expect(stats.total.entries == 0 && stats.total.hits == 3, "counters outlive the entries")
        #expect(stats.json["hit_rate"] == .number(0.6))
    }

    @Test func expiredEntriesAreDeletedAndOnlyUnusedImagesSwept() async throws {
        let s = try setUp()
        let now = Date()
        let kept = try await image(s, seed: "kept"), shared = try await image(s, seed: "shared"), orphan = try await image(s, seed: "orphan")
        _ = try await s.store.insert(entry("live", images: [kept, shared]))
        _ = try await s.store.insert(entry("dying", images: [shared], created: now.addingTimeInterval(-10), ttl: 5))
        #expect(try await s.store.stats(now: now).expiredEntries == 1)
        #expect(try await s.store.deleteExpired(now: now).count == 1)

        // Recently stored images are kept whatever refers to them (their signed URLs may be live).
        #expect(try await s.blobs.sweepUnreferenced(unusedSince: now.addingTimeInterval(-3600)).images == 0)
        let swept = try await s.blobs.sweepUnreferenced(unusedSince: now.addingTimeInterval(60))
        #expect(swept.images == 1 && swept.bytes == orphan.byteCount)
        #expect(try await s.blobs.get(id: orphan.id) == nil)
        #expect(try await s.blobs.get(id: kept.id) != nil)
        #expect(try await s.blobs.get(id: shared.id) != nil)
        let files = try FileManager.default.subpathsOfDirectory(atPath: s.directory.appendingPathComponent("images").path).filter { $0.hasSuffix(".png") }
        #expect(files.count == 2)

        // Storing the same bytes again brings the image back.
        let again = try await image(s, seed: "orphan")
        #expect(try await s.blobs.get(id: again.id)?.1.count == orphan.byteCount)
    }

    /// A miss's new image leaves its record to the entry's transaction; an image whose file
    /// exists is recorded at once (the sweeper could otherwise delete it in between); a record
    /// left pending when no entry is stored is written by `writeRecords`, or with the ledger row.
    @Test func newImagesRecordsRideWithTheEntry() async throws {
        let s = try setUp()
        let data = TestImages.png(width: 32, height: 32, seed: "deferred")
        let info = try #require(ImageInfo.read(data))
        let (image, pending) = try await s.blobs.put(data, info: info, deferRecord: true)
        #expect(pending, "new bytes: the record is left to the entry")
        #expect(try await s.blobs.get(id: image.id) == nil, "no record yet (the file is durable)")
        _ = try await s.store.insert(entry("with a new image", images: [image]))
        #expect(try await s.blobs.get(id: image.id)?.1 == data, "the entry's transaction recorded it")

        let (again, pendingAgain) = try await s.blobs.put(data, info: info, deferRecord: true)
        #expect(again == image && !pendingAgain, "an existing file is recorded under its lock at once")

        let lone = TestImages.png(width: 16, height: 16, seed: "no entry after all")
        let (loneImage, lonePending) = try await s.blobs.put(lone, info: try #require(ImageInfo.read(lone)), deferRecord: true)
        let loneRecord = try await s.blobs.get(id: loneImage.id)
        #expect(lonePending && loneRecord == nil)
        try await s.blobs.writeRecords([loneImage])
        #expect(try await s.blobs.get(id: loneImage.id)?.1 == lone)

        // No entry takes it (a bypass, `no-store`): the record rides with the request's ledger row.
        let bypassed = TestImages.png(width: 24, height: 24, seed: "bypass")
        let (bypassImage, bypassPending) = try await s.blobs.put(bypassed, info: try #require(ImageInfo.read(bypassed)), deferRecord: true)
        let unrecorded = try await s.blobs.get(id: bypassImage.id)
        #expect(bypassPending && unrecorded == nil)
        var row = UsageRecord(requestID: "req-bypass", createdAt: Date(), endpoint: .generations)
        row.pendingImageRecords = [bypassImage]
        try await SQLiteUsageLedger(database: s.database).record(row)
        #expect(try await s.blobs.get(id: bypassImage.id)?.1 == bypassed, "committed with the ledger row")
        // A recorded image is only swept once unused past the cutoff, like any other.
        #expect(try await s.blobs.sweepUnreferenced(unusedSince: Date().addingTimeInterval(-3600)).images == 0)
    }

    /// Image files without a record (a crash between file and record) are swept once old enough;
    /// recorded files, recent files and names that are not content addresses stay.
    @Test func unrecordedImageFilesAreSweptOnceOld() async throws {
        let s = try setUp()
        let recorded = try await image(s, seed: "recorded")
        let orphanBytes = TestImages.png(width: 8, height: 8, seed: "orphan after a crash")
        let (orphan, pending) = try await s.blobs.put(orphanBytes, info: try #require(ImageInfo.read(orphanBytes)), deferRecord: true)
        #expect(pending, "its record was never written (as after a crash)")
        let root = s.directory.appendingPathComponent("images")
        func url(_ image: StoredImage) -> URL { root.appendingPathComponent(String(image.id.prefix(2))).appendingPathComponent(image.fileName) }
        let stray = root.appendingPathComponent(String(orphan.id.prefix(2))).appendingPathComponent("notes.txt")
        try Data("not an image".utf8).write(to: stray)
        let old = Date().addingTimeInterval(-7_200)
        for file in [url(recorded), url(orphan), stray] { try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: file.path) }

        // Too recent for the cutoff: kept.
        let early = try await s.blobs.sweepUnrecordedFiles(inDirectory: Int(orphan.id.prefix(2), radix: 16)!, olderThan: old.addingTimeInterval(-60))
        #expect(early.files == 0 && FileManager.default.fileExists(atPath: url(orphan).path))
        for index in Set([Int(orphan.id.prefix(2), radix: 16)!, Int(recorded.id.prefix(2), radix: 16)!]) {
            _ = try await s.blobs.sweepUnrecordedFiles(inDirectory: index, olderThan: Date())
        }
        #expect(!FileManager.default.fileExists(atPath: url(orphan).path), "the unrecorded file is gone")
        let recordedStill = try await s.blobs.get(id: recorded.id)
        #expect(FileManager.default.fileExists(atPath: url(recorded).path) && recordedStill != nil)
        #expect(FileManager.default.fileExists(atPath: stray.path), "a name that is not a content address is left alone")
        #expect(try await s.blobs.sweepUnrecordedFiles(inDirectory: 256, olderThan: Date()).files == 0, "out-of-range directory: nothing")
    }
}
