import Foundation

/// How every backend stores a cache entry's structured parts: the response fields, image records
/// and per-image extras as JSON text, the embedding as little-endian float32 bytes.
public struct CacheEntryColumns: Sendable, Equatable {
    public var response: String
    public var images: String
    public var imageExtras: String

    public init(_ entry: CacheEntry) throws {
        response = String(decoding: JSONWriter.bytes(.object(entry.response)), as: UTF8.self)
        images = String(decoding: try JSONEncoder.afterimage.encode(entry.images), as: UTF8.self)
        imageExtras = String(decoding: JSONWriter.bytes(.array(entry.imageExtras.map(JSONValue.object))), as: UTF8.self)
    }

    public init(response: String, images: String, imageExtras: String) {
        self.response = response
        self.images = images
        self.imageExtras = imageExtras
    }

    /// The decoded parts (a stored row that does not decode throws).
    public func decoded() throws -> (response: [String: JSONValue], images: [StoredImage], imageExtras: [[String: JSONValue]]) {
        guard let extras = try JSONParser.parse(Data(imageExtras.utf8)).arrayValue else {
            throw JSONParseError(reason: "image extras are not an array", offset: 0)
        }
        return (
            try JSONParser.parse(Data(response.utf8)).objectValue ?? [:],
            try JSONDecoder().decode([StoredImage].self, from: Data(images.utf8)),
            extras.map { $0.objectValue ?? [:] }
        )
    }
}

/// Float32 vectors as little-endian bytes (SQLite BLOB, PostgreSQL bytea).
public enum EmbeddingBlob {
    public static func encode(_ vector: [Float]) -> Data {
        vector.withUnsafeBufferPointer { Data(buffer: $0) }
    }

    /// The vector; trailing bytes that do not make a whole float are ignored.
    public static func decode(_ data: Data) -> [Float] {
        var vector = [Float](repeating: 0, count: data.count / MemoryLayout<Float>.size)
        vector.withUnsafeMutableBytes { target in _ = data.copyBytes(to: target) }
        return vector
    }
}
