import Crypto
import Foundation

/// Generation, hashing and constant-time comparison of virtual-key secrets.
public enum KeySecret {
    /// Prefix of every virtual key.
    public static let scheme = "sk-af-"
    /// The 62 characters of secrets, ids and request ids.
    public static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// `count` random base62 characters from the system CSPRNG (rejection sampling, no modulo bias).
    public static func randomBase62(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var out = [UInt8]()
        out.reserveCapacity(count)
        // All eight bytes of each draw (one `getrandom` call per draw, not per byte).
        while out.count < count {
            var word = generator.next()
            for _ in 0..<8 where out.count < count {
                let byte = UInt8(truncatingIfNeeded: word)
                word >>= 8
                if byte < 248 { out.append(alphabet[Int(byte % 62)]) }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A new secret: `sk-af-` + 40 base62 characters (about 238 bits).
    public static func generate() -> String { scheme + randomBase62(40) }

    /// A new key id: `key_` + 16 base62 characters.
    public static func generateID() -> String { "key_" + randomBase62(16) }

    /// Lower-case hex SHA-256 of a secret.
    public static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).hexString
    }

    /// The part of a secret that is safe to display.
    public static func displayPrefix(_ secret: String) -> String {
        String(secret.prefix(scheme.count + 4))
    }

    /// Compares two strings in time that depends only on their lengths.
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        let n = max(x.count, y.count)
        for i in 0..<n {
            let l = i < x.count ? x[i] : 0
            let r = i < y.count ? y[i] : 0
            difference |= l ^ r
        }
        return difference == 0
    }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hexadecimal text of the bytes.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Data {
    /// Lower-case hex SHA-256 of the bytes.
    public var sha256Hex: String { SHA256.hash(data: self).hexString }
}
