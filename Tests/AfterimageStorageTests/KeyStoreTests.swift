import AfterimageCore
import AfterimageStorage
import AfterimageTesting
import GRDB
import Foundation
import Testing

@Suite final class KeyStoreTests {
    /// Each test's scratch directory, removed when the test ends.
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("afterimage-storage-\(UUID().uuidString)")
    deinit { try? FileManager.default.removeItem(at: directory) }

    func makeDatabase() throws -> (AppDatabase, URL) {
        (try AppDatabase.open(dataDirectory: directory), directory)
    }

    @Test func createFindRevokeRotate() async throws {
        let (database, _) = try makeDatabase()
        let store = SQLiteKeyStore(database: database)
        let secret = KeySecret.generate()
        let key = try await store.create(name: "team a", namespace: nil, allowedModels: ["gpt-image-1"], expiresAt: nil, secret: secret)
        #expect(key.namespace == key.id)
        #expect(key.secretHash == KeySecret.hash(secret))
        #expect(key.prefix == String(secret.prefix(10)))
        #expect(try await store.find(secretHash: KeySecret.hash(secret))?.id == key.id)
        #expect(try await store.find(secretHash: KeySecret.hash("sk-af-other")) == nil)

        let newSecret = KeySecret.generate()
        let rotated = try #require(try await store.rotate(id: key.id, newSecret: newSecret))
        #expect(rotated.id == key.id && rotated.rotatedAt != nil)
        #expect(try await store.find(secretHash: KeySecret.hash(secret)) == nil)
        #expect(try await store.find(secretHash: KeySecret.hash(newSecret))?.id == key.id)

        let revoked = try #require(try await store.revoke(id: key.id))
        #expect(revoked.revokedAt != nil && !revoked.isActive(at: Date()))
        #expect(try await store.list().map(\.id) == [key.id])
        #expect(try await store.revoke(id: "key_missing") == nil)
    }

    /// The server remembers decoded keys, but a change made elsewhere (the CLI's own store, on
    /// another connection) is seen at the very next lookup: the memo is checked against the row.
    @Test func findSeesChangesMadeByAnotherStoreAtOnce() async throws {
        let (database, _) = try makeDatabase()
        let server = SQLiteKeyStore(database: database)
        let cli = SQLiteKeyStore(database: try AppDatabase.open(dataDirectory: directory))
        let secret = KeySecret.generate()
        let hash = KeySecret.hash(secret)
        let key = try await cli.create(name: "a", namespace: "team", allowedModels: ["x"], expiresAt: nil, secret: secret)
        #expect(try await server.find(secretHash: hash)?.allowedModels == ["x"])
        #expect(try await server.find(secretHash: hash)?.allowedModels == ["x"])  // from the memo

        _ = try await cli.update(id: key.id, changes: KeyChanges(name: "b", allowedModels: .some(["y"]), limits: LimitChanges(requestsPerMinute: .some(7))))
        let changed = try #require(try await server.find(secretHash: hash))
        #expect(changed.name == "b" && changed.allowedModels == ["y"] && changed.limits.requestsPerMinute == 7)

        _ = try await cli.revoke(id: key.id)
        #expect(try await server.find(secretHash: hash)?.revokedAt != nil)
        _ = try await cli.rotate(id: key.id, newSecret: KeySecret.generate())
        #expect(try await server.find(secretHash: hash) == nil)
    }

    /// A flood of distinct valid keys cannot grow the decoded-key memo past its bound.
    @Test func decodedKeyMemoIsBounded() async throws {
        let memo = BoundedMemo<String, Int>(capacity: 8)
        for index in 0..<1_000 { memo.put("key-\(index)", index) }
        #expect(memo.count <= 8)
        #expect(memo.get("key-999") == 999)
        memo.put("key-999", 1)
        #expect(memo.get("key-999") == 1 && memo.count <= 8)
    }

    @Test func updateSetsAndClearsFields() async throws {
        let (database, _) = try makeDatabase()
        let store = SQLiteKeyStore(database: database)
        let key = try await store.create(name: "a", namespace: "team", allowedModels: ["x"], expiresAt: Date(), secret: KeySecret.generate())
        let updated = try #require(try await store.update(id: key.id, changes: KeyChanges(name: "b", allowedModels: .some(nil), expiresAt: .some(nil))))
        #expect(updated.name == "b" && updated.namespace == "team" && updated.allowedModels == nil && updated.expiresAt == nil)
    }

    @Test func databaseIsInWALMode() async throws {
        let (database, _) = try makeDatabase()
        let mode = try await database.writer.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    @Test func blobStoreIsContentAddressed() async throws {
        let (database, directory) = try makeDatabase()
        let blobs = try FileBlobStore(database: database, dataDirectory: directory)
        let png = TestImages.png(width: 16, height: 8, seed: "blob")
        let info = try #require(ImageInfo.read(png))
        let stored = try await blobs.put(png, info: info)
        let again = try await blobs.put(png, info: info)
        #expect(stored == again)
        #expect(stored.id == png.sha256Hex && stored.width == 16 && stored.height == 8)
        let (image, data) = try #require(try await blobs.get(id: stored.id))
        #expect(image == stored && data == png)
        #expect(try await blobs.get(id: "../../etc/passwd") == nil)
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: directory.appendingPathComponent("images").path)
        #expect(leftovers.filter { $0.hasSuffix(".tmp") }.isEmpty)
    }
}
