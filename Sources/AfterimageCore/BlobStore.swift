import Foundation

/// An image file kept by the proxy, addressed by the SHA-256 of its bytes.
public struct StoredImage: Sendable, Equatable, Codable {
    /// Lower-case hex SHA-256 of the bytes.
    public var id: String
    public var format: ImageFormat
    public var width: Int
    public var height: Int
    public var byteCount: Int

    /// Whether `id` can name a stored image: exactly 64 lower-case ASCII hex digits (no other
    /// script's digits, no upper case — a file or row name is never anything else).
    public static func isValidID<S: StringProtocol>(_ id: S) -> Bool {
        id.utf8.count == 64 && id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// The description of `data` as stored: its SHA-256 as id, its format and size from `info`.
    public init(data: Data, info: ImageInfo) {
        self.init(id: data.sha256Hex, format: info.format, width: info.dimensions.width, height: info.dimensions.height, byteCount: data.count)
    }

    public init(id: String, format: ImageFormat, width: Int, height: Int, byteCount: Int) {
        self.id = id
        self.format = format
        self.width = width
        self.height = height
        self.byteCount = byteCount
    }

    /// `{id}.{ext}` as used in file URLs.
    public var fileName: String { "\(id).\(format.fileExtension)" }
}

/// Content-addressed storage of image bytes with their metadata.
public protocol BlobStore: Sendable {
    /// Stores the bytes (durably) and returns their record; storing the same bytes twice is a no-op.
    func put(_ data: Data, info: ImageInfo) async throws -> StoredImage
    /// As `put`; with `deferRecord`, a store that can leave the record of *new* bytes (no record
    /// of them can exist yet, so nothing can sweep them meanwhile) to the transaction that stores
    /// the cache entry using them does so and answers `recordPending: true`. The caller then has
    /// it written: by the cache store's `insert` of an entry with this image (the SQLite pair), by
    /// the ledger row's transaction when no entry takes it (`UsageRecord.pendingImageRecords`), or
    /// by `writeRecords`.
    func put(_ data: Data, info: ImageInfo, deferRecord: Bool) async throws -> (image: StoredImage, recordPending: Bool)
    /// Writes records `put(_:info:deferRecord:)` left pending.
    func writeRecords(_ images: [StoredImage]) async throws
    /// The record and bytes of an image, or nil.
    func get(id: String) async throws -> (StoredImage, Data)?
    /// Deletes images no cache entry uses and nobody stored or served since `cutoff` (so every
    /// signed URL handed out for them has expired); returns how many and their bytes.
    func sweepUnreferenced(unusedSince cutoff: Date) async throws -> (images: Int, bytes: Int)
}

extension BlobStore {
    /// Stores that cannot defer a record write it at once.
    public func put(_ data: Data, info: ImageInfo, deferRecord: Bool) async throws -> (image: StoredImage, recordPending: Bool) {
        (try await put(data, info: info), false)
    }

    public func writeRecords(_ images: [StoredImage]) async throws {}
}
