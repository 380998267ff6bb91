import AfterimageCore
import Foundation
import GRDB

/// `BlobStore` keeping bytes in content-addressed files under `{dataDir}/images/ab/{sha256}.{ext}`
/// and metadata in the `images` table. The file is written to a temporary name, fsynced and renamed
/// before its row is committed, so a row never points at a missing or partial file.
public struct FileBlobStore: BlobStore {
    let database: AppDatabase
    let root: URL

    public init(database: AppDatabase, dataDirectory: URL) throws {
        self.database = database
        self.root = dataDirectory.appendingPathComponent("images", isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    func fileURL(id: String, format: ImageFormat) -> URL {
        root.appendingPathComponent(String(id.prefix(2)), isDirectory: true)
            .appendingPathComponent("\(id).\(format.fileExtension)")
    }

    public func put(_ data: Data, info: ImageInfo) async throws -> StoredImage {
        let image = StoredImage(
            id: data.sha256Hex, format: info.format, width: info.dimensions.width,
            height: info.dimensions.height, byteCount: data.count
        )
        let url = fileURL(id: image.id, format: image.format)
        try await BlockingIO.run {
            if !FileManager.default.fileExists(atPath: url.path) { try DurableFile.write(data, to: url) }
        }
        try await database.writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO images (id, format, width, height, byte_count, created_at)
                    VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING
                    """,
                arguments: [image.id, image.format.rawValue, image.width, image.height, image.byteCount, Date()]
            )
        }
        return image
    }

    public func get(id: String) async throws -> (StoredImage, Data)? {
        guard id.count == 64, id.allSatisfy(\.isHexDigit) else { return nil }
        let row = try await database.writer.read { db in
            try Row.fetchOne(db, sql: "SELECT format, width, height, byte_count FROM images WHERE id = ?", arguments: [id])
        }
        guard let row, let format = ImageFormat(rawValue: row["format"]) else { return nil }
        let image = StoredImage(id: id, format: format, width: row["width"], height: row["height"], byteCount: row["byte_count"])
        let path = fileURL(id: id, format: format).path
        guard let data = try await BlockingIO.run({ FileManager.default.contents(atPath: path) }) else { return nil }
        return (image, data)
    }
}
