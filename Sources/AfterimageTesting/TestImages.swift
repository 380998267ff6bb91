import AfterimageCore
import Foundation

/// Small, valid image files for tests: PNGs of any size (1-bit palette, stored deflate blocks),
/// and JPEG / WebP headers with given dimensions.
public enum TestImages {
    /// A valid PNG of `width`×`height` whose two palette colours and stripe pattern derive from `seed`:
    /// equal seeds give byte-identical files.
    public static func png(width: Int, height: Int, seed: String = "") -> Data {
        let hash = fnv1a(seed)
        let colorA = [UInt8(truncatingIfNeeded: hash), UInt8(truncatingIfNeeded: hash >> 8), UInt8(truncatingIfNeeded: hash >> 16)]
        let colorB = [UInt8(truncatingIfNeeded: hash >> 24), UInt8(truncatingIfNeeded: hash >> 32), UInt8(truncatingIfNeeded: hash >> 40)]
        let stripe = Int(hash >> 48 & 0x1F) + 1
        let rowBytes = (width + 7) / 8
        var raw = Data(capacity: (rowBytes + 1) * height)
        for y in 0..<height {
            raw.append(0) // filter: none
            let on: UInt8 = (y / stripe) % 2 == 0 ? 0xAA : 0x55
            raw.append(contentsOf: repeatElement(on, count: rowBytes))
        }
        var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var header = Data()
        header.append(bigEndian: UInt32(width))
        header.append(bigEndian: UInt32(height))
        header.append(contentsOf: [1, 3, 0, 0, 0]) // bit depth 1, palette, deflate, adaptive filter, no interlace
        png.appendChunk("IHDR", header)
        png.appendChunk("PLTE", Data(colorA + colorB))
        png.appendChunk("IDAT", zlibStored(raw))
        png.appendChunk("IEND", Data())
        return png
    }

    /// A JPEG start (SOI, APP0, SOF0) announcing `width`×`height`; enough for header parsing.
    public static func jpegHeader(width: Int, height: Int) -> Data {
        var data = Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10])
        data.append(contentsOf: Array("JFIF".utf8) + [0, 1, 1, 0, 0, 1, 0, 1, 0, 0])
        data.append(contentsOf: [0xFF, 0xC0, 0x00, 0x11, 0x08])
        data.append(contentsOf: [UInt8(height >> 8), UInt8(height & 0xFF), UInt8(width >> 8), UInt8(width & 0xFF)])
        data.append(contentsOf: [0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01])
        data.append(contentsOf: [0xFF, 0xD9])
        return data
    }

    /// A WebP (VP8X) header announcing `width`×`height`.
    public static func webpHeader(width: Int, height: Int) -> Data {
        var data = Data("RIFF".utf8)
        data.append(contentsOf: [22, 0, 0, 0])
        data.append(contentsOf: Array("WEBPVP8X".utf8))
        data.append(contentsOf: [10, 0, 0, 0, 0, 0, 0, 0])
        let w = width - 1, h = height - 1
        data.append(contentsOf: [UInt8(w & 0xFF), UInt8(w >> 8 & 0xFF), UInt8(w >> 16 & 0xFF)])
        data.append(contentsOf: [UInt8(h & 0xFF), UInt8(h >> 8 & 0xFF), UInt8(h >> 16 & 0xFF)])
        return data
    }

    /// zlib stream of stored (uncompressed) deflate blocks.
    static func zlibStored(_ raw: Data) -> Data {
        var out = Data([0x78, 0x01])
        var offset = 0
        let bytes = [UInt8](raw)
        repeat {
            let length = min(65_535, bytes.count - offset)
            let final: UInt8 = offset + length >= bytes.count ? 1 : 0
            out.append(final)
            out.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
            out.append(contentsOf: [UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)])
            out.append(contentsOf: bytes[offset..<offset + length])
            offset += length
        } while offset < bytes.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        out.append(bigEndian: b << 16 | a)
        return out
    }

    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: Data) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in bytes { c = crcTable[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}

extension Data {
    mutating func append(bigEndian value: UInt32) {
        append(contentsOf: [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)])
    }

    mutating func appendChunk(_ type: String, _ payload: Data) {
        append(bigEndian: UInt32(payload.count))
        let typed = Data(type.utf8) + payload
        append(typed)
        append(bigEndian: TestImages.crc32(typed))
    }
}

/// 64-bit FNV-1a of a seed (test images only need a stable spread of colours).
private func fnv1a(_ text: String) -> UInt64 {
    text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
}
