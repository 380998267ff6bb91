import Foundation

/// The image formats Afterimage accepts and serves, recognised by their magic bytes.
public enum ImageFormat: String, Sendable, CaseIterable, Codable {
    case png
    case jpeg
    case webp

    /// MIME type, e.g. `image/png`.
    public var contentType: String {
        switch self {
        case .png: return "image/png"
        case .jpeg: return "image/jpeg"
        case .webp: return "image/webp"
        }
    }

    /// File extension without the dot.
    public var fileExtension: String {
        switch self {
        case .png: return "png"
        case .jpeg: return "jpg"
        case .webp: return "webp"
        }
    }

    /// The format for a file extension (`png`, `jpg`, `jpeg`, `webp`).
    public init?(fileExtension: String) {
        switch fileExtension.lowercased() {
        case "png": self = .png
        case "jpg", "jpeg": self = .jpeg
        case "webp": self = .webp
        default: return nil
        }
    }

    /// Recognises the format from the first bytes, or nil when they are none of the three.
    public static func sniff<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> ImageFormat? {
        let head = Array(bytes.prefix(12))
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if head.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if head.count >= 12, head[0..<4].elementsEqual(Array("RIFF".utf8)), head[8..<12].elementsEqual(Array("WEBP".utf8)) {
            return .webp
        }
        return nil
    }
}

/// Pixel dimensions of an image.
public struct ImageDimensions: Sendable, Hashable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }
    public var description: String { "\(width)x\(height)" }
}

/// What the header of an image file says: its format and dimensions, read without decoding pixels.
public struct ImageInfo: Sendable, Hashable {
    public var format: ImageFormat
    public var dimensions: ImageDimensions

    public init(format: ImageFormat, dimensions: ImageDimensions) {
        self.format = format
        self.dimensions = dimensions
    }

    /// Reads format and dimensions from PNG (IHDR), JPEG (SOFn) or WebP (VP8, VP8L, VP8X) headers.
    /// Returns nil when the bytes are not a well-formed header of one of those formats.
    public static func read(_ data: Data) -> ImageInfo? {
        let bytes = [UInt8](data.prefix(1 << 20))
        guard let format = ImageFormat.sniff(bytes) else { return nil }
        let dimensions: ImageDimensions?
        switch format {
        case .png: dimensions = pngDimensions(bytes)
        case .jpeg: dimensions = jpegDimensions(data)
        case .webp: dimensions = webpDimensions(bytes)
        }
        guard let dimensions, dimensions.width > 0, dimensions.height > 0 else { return nil }
        return ImageInfo(format: format, dimensions: dimensions)
    }

    private static func bigEndian32(_ b: [UInt8], _ i: Int) -> Int {
        Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3])
    }

    private static func pngDimensions(_ b: [UInt8]) -> ImageDimensions? {
        // Signature (8) + length (4) + "IHDR" (4) + width (4) + height (4).
        guard b.count >= 24, b[12..<16].elementsEqual(Array("IHDR".utf8)) else { return nil }
        return ImageDimensions(width: bigEndian32(b, 16), height: bigEndian32(b, 20))
    }

    private static func jpegDimensions(_ data: Data) -> ImageDimensions? {
        let b = [UInt8](data)
        var i = 2
        while i + 4 <= b.count {
            guard b[i] == 0xFF else { return nil }
            let marker = b[i + 1]
            if marker == 0xFF { i += 1; continue }
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { i += 2; continue }
            if marker == 0xD9 || marker == 0xDA { return nil }
            let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard length >= 2 else { return nil }
            let isStartOfFrame = (0xC0...0xCF).contains(marker) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC
            if isStartOfFrame {
                guard i + 9 <= b.count else { return nil }
                let height = Int(b[i + 5]) << 8 | Int(b[i + 6])
                let width = Int(b[i + 7]) << 8 | Int(b[i + 8])
                return ImageDimensions(width: width, height: height)
            }
            i += 2 + length
        }
        return nil
    }

    private static func webpDimensions(_ b: [UInt8]) -> ImageDimensions? {
        guard b.count >= 30 else { return nil }
        let chunk = String(decoding: b[12..<16], as: UTF8.self)
        switch chunk {
        case "VP8 ":
            // Frame tag (3) then start code 9D 01 2A, then 14-bit width and height.
            guard b[23] == 0x9D, b[24] == 0x01, b[25] == 0x2A else { return nil }
            let width = (Int(b[26]) | Int(b[27]) << 8) & 0x3FFF
            let height = (Int(b[28]) | Int(b[29]) << 8) & 0x3FFF
            return ImageDimensions(width: width, height: height)
        case "VP8L":
            guard b[20] == 0x2F else { return nil }
            let bits = UInt32(b[21]) | UInt32(b[22]) << 8 | UInt32(b[23]) << 16 | UInt32(b[24]) << 24
            return ImageDimensions(width: Int(bits & 0x3FFF) + 1, height: Int((bits >> 14) & 0x3FFF) + 1)
        case "VP8X":
            let width = (Int(b[24]) | Int(b[25]) << 8 | Int(b[26]) << 16) + 1
            let height = (Int(b[27]) | Int(b[28]) << 8 | Int(b[29]) << 16) + 1
            return ImageDimensions(width: width, height: height)
        default:
            return nil
        }
    }
}
