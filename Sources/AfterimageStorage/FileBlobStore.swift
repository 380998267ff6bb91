import AfterimageCore
import Foundation
import GRDB
import Synchronization

/// `BlobStore` keeping bytes in content-addressed files under `{dataDir}/images/ab/{sha256}.{ext}`
/// and metadata in the `images` table. The file is written to a temporary name, fsynced and renamed
/// before its row is committed, so a row never points at a missing or partial file. Storing and
/// sweeping the same image are serialised per image id, so a sweep never deletes a file a
/// concurrent store has just relied on.
public struct FileBlobStore: BlobStore {
    let database: AppDatabase
    let root: URL
    let lock = KeyedLock<String>()
    /// Which of the 256 image directories the next sweep checks for unrecorded files.
    let orphanCursor = OrphanCursor()

    final class OrphanCursor: Sendable {
        let next = Atomic<Int>(0)
    }

    /// `sweepTemporaryFiles`: remove `*.tmp` files a crash left behind (only the process that
    /// holds the data directory's lock may: another one's writes are in flight).
    public init(database: AppDatabase, dataDirectory: URL, sweepTemporaryFiles: Bool = false) throws {
        self.database = database
        self.root = dataDirectory.appendingPathComponent("images", isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        if sweepTemporaryFiles { DurableFile.sweepTemporaryFiles(under: root) }
    }

    func fileURL(id: String, format: ImageFormat) -> URL {
        root.appendingPathComponent(String(id.prefix(2)), isDirectory: true)
            .appendingPathComponent("\(id).\(format.fileExtension)")
    }

    public func put(_ data: Data, info: ImageInfo) async throws -> StoredImage {
        try await put(data, info: info, deferRecord: false).image
    }

    /// Writes the file (unless it exists) before the record. With `deferRecord`, the record of a
    /// file written just now is left to `SQLiteCacheStore.insert` (the entry's transaction):
    /// without a record the sweeper never looks at the file, so nothing can delete it meanwhile.
    /// An existing file's record is always written here, under the image's lock, as the sweeper
    /// could otherwise delete both between this check and a later write.
    public func put(_ data: Data, info: ImageInfo, deferRecord: Bool) async throws -> (image: StoredImage, recordPending: Bool) {
        let image = StoredImage(data: data, info: info)
        let url = fileURL(id: image.id, format: image.format)
        let database = database
        return try await lock.withLock(image.id) {
            let wrote = try await BlockingExecutor.io.run { () throws -> Bool in
                if FileManager.default.fileExists(atPath: url.path) { return false }
                try DurableFile.write(data, to: url)
                return true
            }
            if deferRecord, wrote { return (image, true) }
            try await database.writer.write { db in try Self.upsertRecord(image, now: Date(), db) }
            return (image, false)
        }
    }

    public func writeRecords(_ images: [StoredImage]) async throws {
        guard !images.isEmpty else { return }
        try await database.writer.write { db in
            for image in images { try Self.upsertRecord(image, now: Date(), db) }
        }
    }

    /// Inserts an image's record, or (`touch`) marks an existing one used now; statements
    /// prepared once per connection.
    static func upsertRecord(_ image: StoredImage, now: Date, touch: Bool = true, _ db: Database) throws {
        let stamp = DatabaseDate.text(now)
        let insert = "INSERT INTO images (id, format, width, height, byte_count, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
        try db.cachedStatement(sql: insert + (touch ? "ON CONFLICT(id) DO UPDATE SET last_used_at = excluded.last_used_at" : "ON CONFLICT(id) DO NOTHING"))
            .execute(arguments: [image.id, image.format.rawValue, image.width, image.height, image.byteCount, stamp, stamp])
    }

    public func sweepUnreferenced(unusedSince cutoff: Date) async throws -> (images: Int, bytes: Int) {
        let unused = """
            COALESCE(last_used_at, created_at) < ? AND NOT EXISTS (SELECT 1 FROM cache_entry_images WHERE image_id = images.id)
            """
        // Plain values out of the read (rows are not Sendable): the read runs on GRDB's reader, not here.
        let candidates = try await database.writer.read { db in
            try Row.fetchAll(db, sql: "SELECT id, format FROM images WHERE \(unused)", arguments: [cutoff]).map { row -> (id: String, format: String) in
                (row["id"], row["format"])
            }
        }
        var swept = (images: 0, bytes: 0)
        for (id, formatName) in candidates {
            guard let format = ImageFormat(rawValue: formatName) else { continue }
            let url = fileURL(id: id, format: format)
            let database = database
            // Row first, then file: a crash in between leaves an orphan file, never a dangling row.
            let bytes: Int? = try await lock.withLock(id) {
                let deleted = try await database.writer.write { db -> Int? in
                    let bytes = try Int.fetchOne(db, sql: "SELECT byte_count FROM images WHERE id = ? AND \(unused)", arguments: [id, cutoff])
                    if bytes != nil { try db.execute(sql: "DELETE FROM images WHERE id = ?", arguments: [id]) }
                    return bytes
                }
                if deleted != nil { await BlockingExecutor.io.run { try? FileManager.default.removeItem(at: url) } }
                return deleted
            }
            if let bytes {
                swept.images += 1
                swept.bytes += bytes
            }
        }
        // Files without a record (a crash between a file and its record, or before a miss's
        // entry committed) would never be swept above: each sweep checks one of the 256
        // directories in turn (bounded work) and deletes such files once older than the cutoff.
        let directory = orphanCursor.next.wrappingAdd(1, ordering: .relaxed).oldValue & 0xFF
        let orphans = try await sweepUnrecordedFiles(inDirectory: directory, olderThan: min(cutoff, Date().addingTimeInterval(-3_600)))
        swept.images += orphans.files
        swept.bytes += orphans.bytes
        return swept
    }

    /// Deletes the files of image directory `index` (0–255, `images/00`…`images/ff`) that have
    /// no record and were last modified before `cutoff`; returns how many and their bytes.
    public func sweepUnrecordedFiles(inDirectory index: Int, olderThan cutoff: Date) async throws -> (files: Int, bytes: Int) {
        guard (0...255).contains(index) else { return (0, 0) }
        let directory = root.appendingPathComponent(String(format: "%02x", index), isDirectory: true)
        // Content-addressed names only ("<64 hex>.<ext>"); anything else is left alone.
        let candidates: [(id: String, url: URL, bytes: Int)] = await BlockingExecutor.io.run {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            return names.prefix(100_000).compactMap { name in
                let parts = name.split(separator: ".")
                guard parts.count == 2, StoredImage.isValidID(parts[0]), ImageFormat.allCases.contains(where: { $0.fileExtension == parts[1] }) else { return nil }
                let url = directory.appendingPathComponent(name)
                guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
                      let modified = attributes[.modificationDate] as? Date, modified < cutoff else { return nil }
                return (String(parts[0]), url, (attributes[.size] as? Int) ?? 0)
            }
        }
        var removed = (files: 0, bytes: 0)
        let database = database
        for candidate in candidates {
            // Under the image's lock and after a fresh look at its record: a store of the same
            // bytes in between keeps its file.
            let deleted: Bool = try await lock.withLock(candidate.id) {
                let recorded = try await database.writer.read { db in
                    try Int.fetchOne(db, sql: "SELECT 1 FROM images WHERE id = ?", arguments: [candidate.id]) != nil
                }
                guard !recorded else { return false }
                return await BlockingExecutor.io.run { (try? FileManager.default.removeItem(at: candidate.url)) != nil }
            }
            if deleted {
                removed.files += 1
                removed.bytes += candidate.bytes
            }
        }
        return removed
    }

    public func get(id: String) async throws -> (StoredImage, Data)? {
        guard StoredImage.isValidID(id) else { return nil }
        let found = try await database.writer.read { db in
            try Row.fetchOne(db, sql: "SELECT format, width, height, byte_count FROM images WHERE id = ?", arguments: [id]).map { row -> (format: String, width: Int, height: Int, bytes: Int) in
                (row["format"], row["width"], row["height"], row["byte_count"])
            }
        }
        guard let found, let format = ImageFormat(rawValue: found.format) else { return nil }
        let image = StoredImage(id: id, format: format, width: found.width, height: found.height, byteCount: found.bytes)
        let path = fileURL(id: id, format: format).path
        guard let data = await BlockingExecutor.io.run({ FileManager.default.contents(atPath: path) }) else { return nil }
        return (image, data)
    }
}
