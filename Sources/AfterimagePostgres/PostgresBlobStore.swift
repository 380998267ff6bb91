import AfterimageCore
import Foundation
import Logging
import PostgresNIO

/// `BlobStore` in the shared database: one `images` row per SHA-256 with the bytes as `bytea`,
/// so an image stored through one replica is served by every replica. Reads go through a
/// bounded per-replica disk cache. The row is committed before any cache row can name it (the
/// link table's foreign key enforces that order).
public struct PostgresBlobStore: BlobStore {
    let database: PostgresBackend
    let diskCache: ImageDiskCache?
    var client: PostgresClient { database.client }
    var logger: Logger { database.logger }

    public init(database: PostgresBackend, diskCache: ImageDiskCache?) {
        self.database = database
        self.diskCache = diskCache
    }

    public func put(_ data: Data, info: ImageInfo) async throws -> StoredImage {
        let image = StoredImage(data: data, info: info)
        let now = Date()
        // Known bytes are not sent again: marking the row used is enough.
        let touched = try await database.query("UPDATE images SET last_used_at = \(now) WHERE id = \(image.id) RETURNING id")
        for try await _ in touched { return image }
        try await database.query(
            """
            INSERT INTO images (id, format, width, height, byte_count, data, created_at, last_used_at)
            VALUES (\(image.id), \(image.format.rawValue), \(Int32(clamping: image.width)), \(Int32(clamping: image.height)),
                    \(Int64(image.byteCount)), \(data), \(now), \(now))
            ON CONFLICT (id) DO UPDATE SET last_used_at = excluded.last_used_at
            """)
        return image
    }

    public func get(id: String) async throws -> (StoredImage, Data)? {
        guard StoredImage.isValidID(id) else { return nil }
        let meta = try await database.query("SELECT format, width, height, byte_count FROM images WHERE id = \(id)")
        var found: StoredImage?
        for try await (format, width, height, bytes) in meta.decode((String, Int32, Int32, Int64).self) {
            guard let format = ImageFormat(rawValue: format) else { return nil }
            found = StoredImage(id: id, format: format, width: Int(width), height: Int(height), byteCount: Int(clamping: bytes))
        }
        guard let image = found else { return nil }
        if let cached = await diskCache?.get(id, byteCount: image.byteCount) { return (image, cached) }
        let rows = try await database.query("SELECT data FROM images WHERE id = \(id)")
        for try await data in rows.decode(Data.self) {
            // The bytes must be the ones their name promises.
            guard data.count == image.byteCount, data.sha256Hex == id else { return nil }
            await diskCache?.put(id, data)
            return (image, data)
        }
        return nil
    }

    /// Deletes unreferenced images unused since `cutoff`; one replica at a time (a session
    /// advisory lock taken with `try`: a replica finding it held skips this round).
    public func sweepUnreferenced(unusedSince cutoff: Date) async throws -> (images: Int, bytes: Int) {
        let logger = logger
        return try await client.withConnection { connection in
            var locked = false
            for try await value in try await connection.query("SELECT pg_try_advisory_lock(\(PostgresBackend.sweepLock))", logger: logger).decode(Bool.self) {
                locked = value
            }
            guard locked else { return (0, 0) }
            do {
                let swept = try await Self.deleteUnreferenced(connection, cutoff: cutoff, logger: logger)
                try await connection.query("SELECT pg_advisory_unlock(\(PostgresBackend.sweepLock))", logger: logger)
                return swept
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(PostgresBackend.sweepLock))", logger: logger)
                throw error
            }
        }
    }

    static func deleteUnreferenced(_ connection: PostgresConnection, cutoff: Date, logger: Logger) async throws -> (images: Int, bytes: Int) {
        let rows = try await connection.query(
            """
            WITH gone AS (
                DELETE FROM images WHERE COALESCE(last_used_at, created_at) < \(cutoff)
                AND NOT EXISTS (SELECT 1 FROM cache_entry_images WHERE image_id = images.id)
                RETURNING byte_count
            )
            SELECT COUNT(*), COALESCE(SUM(byte_count), 0)::bigint FROM gone
            """,
            logger: logger
        )
        var swept = (images: 0, bytes: 0)
        for try await (count, bytes) in rows.decode((Int64, Int64).self) { swept = (Int(clamping: count), Int(clamping: bytes)) }
        return swept
    }
}
