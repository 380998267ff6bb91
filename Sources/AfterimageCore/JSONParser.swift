import Foundation

/// A strict RFC 8259 parser straight into `JSONValue`, for the request path: Foundation's
/// `JSONDecoder` reaches `JSONValue` through `Codable`, trying each case in turn and throwing a
/// `DecodingError` for every miss — on a hit it cost more than the SQLite reads (`perf`). Hostile
/// input ends in `JSONParseError`, never a crash: nesting is bounded, UTF-8 is validated, numbers
/// must be finite, lone surrogate escapes and trailing bytes are refused.
public enum JSONParser {
    /// The deepest nesting accepted by default (Foundation's `JSONDecoder` allows 512).
    public static let defaultMaxDepth = 512

    /// Parses one JSON text (surrounding whitespace allowed).
    public static func parse(_ data: Data, maxDepth: Int = defaultMaxDepth) throws -> JSONValue {
        try data.withUnsafeBytes { raw in
            try parse(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count), maxDepth: maxDepth)
        }
    }

    /// Parses one JSON text held in `bytes`.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = defaultMaxDepth) throws -> JSONValue {
        var reader = Reader(bytes: bytes, maxDepth: max(1, maxDepth))
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.offset == bytes.count else { throw JSONParseError(reason: "unexpected bytes after the value", offset: reader.offset) }
        return value
    }

    struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        let maxDepth: Int
        var offset = 0

        init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
        }

        func fail(_ reason: String, tooDeep: Bool = false) -> JSONParseError { JSONParseError(reason: reason, offset: offset, tooDeep: tooDeep) }

        mutating func skipWhitespace() {
            while offset < bytes.count {
                switch bytes[offset] {
                case 0x20, 0x09, 0x0A, 0x0D: offset += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws -> JSONValue {
            guard offset < bytes.count else { throw fail("unexpected end of input") }
            switch bytes[offset] {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw fail("unexpected character")
            }
        }

        mutating func literal(_ word: StaticString) throws {
            let count = word.utf8CodeUnitCount
            guard bytes.count - offset >= count else { throw fail("unexpected end of input") }
            for index in 0..<count where bytes[offset + index] != word.utf8Start[index] { throw fail("invalid literal") }
            offset += count
        }

        mutating func object(depth: Int) throws -> JSONValue {
            guard depth <= maxDepth else { throw fail("nested more than \(maxDepth) levels deep", tooDeep: true) }
            offset += 1
            var members = [String: JSONValue]()
            skipWhitespace()
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") {
                offset += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
                let key = try string()
                skipWhitespace()
                guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                offset += 1
                skipWhitespace()
                let member = try value(depth: depth)
                // A repeated name keeps its first value, as `JSONDecoder` does.
                if members[key] == nil { members[key] = member }
                skipWhitespace()
                guard offset < bytes.count else { throw fail("unexpected end of input") }
                switch bytes[offset] {
                case UInt8(ascii: ","): offset += 1
                case UInt8(ascii: "}"): offset += 1; return .object(members)
                default: throw fail("expected ',' or '}'")
                }
            }
        }

        mutating func array(depth: Int) throws -> JSONValue {
            guard depth <= maxDepth else { throw fail("nested more than \(maxDepth) levels deep", tooDeep: true) }
            offset += 1
            var elements = [JSONValue]()
            skipWhitespace()
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") {
                offset += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try value(depth: depth))
                skipWhitespace()
                guard offset < bytes.count else { throw fail("unexpected end of input") }
                switch bytes[offset] {
                case UInt8(ascii: ","): offset += 1
                case UInt8(ascii: "]"): offset += 1; return .array(elements)
                default: throw fail("expected ',' or ']'")
                }
            }
        }

        /// A string at `offset` (its opening quote): unescaped, validated UTF-8.
        mutating func string() throws -> String {
            offset += 1
            let start = offset
            // Fast path: no escapes before the closing quote.
            while offset < bytes.count {
                let byte = bytes[offset]
                if byte == UInt8(ascii: "\"") {
                    let text = try validated(UnsafeBufferPointer(rebasing: bytes[start..<offset]))
                    offset += 1
                    return text
                }
                if byte == UInt8(ascii: "\\") { break }
                guard byte >= 0x20 else { throw fail("control character in a string") }
                offset += 1
            }
            var scratch = [UInt8](UnsafeBufferPointer(rebasing: bytes[start..<offset]))
            while offset < bytes.count {
                let byte = bytes[offset]
                switch byte {
                case UInt8(ascii: "\""):
                    offset += 1
                    return try scratch.withUnsafeBufferPointer { try validated($0) }
                case UInt8(ascii: "\\"):
                    offset += 1
                    guard offset < bytes.count else { throw fail("unexpected end of input") }
                    let escape = bytes[offset]
                    offset += 1
                    switch escape {
                    case UInt8(ascii: "\""): scratch.append(0x22)
                    case UInt8(ascii: "\\"): scratch.append(0x5C)
                    case UInt8(ascii: "/"): scratch.append(0x2F)
                    case UInt8(ascii: "b"): scratch.append(0x08)
                    case UInt8(ascii: "f"): scratch.append(0x0C)
                    case UInt8(ascii: "n"): scratch.append(0x0A)
                    case UInt8(ascii: "r"): scratch.append(0x0D)
                    case UInt8(ascii: "t"): scratch.append(0x09)
                    case UInt8(ascii: "u"): try appendEscapedScalar(to: &scratch)
                    default: throw fail("invalid escape")
                    }
                default:
                    guard byte >= 0x20 else { throw fail("control character in a string") }
                    scratch.append(byte)
                    offset += 1
                }
            }
            throw fail("unterminated string")
        }

        /// `\uXXXX` (after the `u`), with a following low surrogate when it is a high one.
        mutating func appendEscapedScalar(to scratch: inout [UInt8]) throws {
            var code = try hex4()
            if (0xD800...0xDBFF).contains(code) {
                guard bytes.count - offset >= 6, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") else {
                    throw fail("lone surrogate escape")
                }
                offset += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw fail("lone surrogate escape") }
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(code) {
                throw fail("lone surrogate escape")
            }
            guard let scalar = Unicode.Scalar(code) else { throw fail("invalid escape") }
            scratch.append(contentsOf: UTF8.encode(scalar)!)
        }

        mutating func hex4() throws -> UInt32 {
            guard bytes.count - offset >= 4 else { throw fail("unexpected end of input") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[offset]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw fail("invalid \\u escape")
                }
                value = value << 4 | UInt32(digit)
                offset += 1
            }
            return value
        }

        func validated(_ utf8: UnsafeBufferPointer<UInt8>) throws -> String {
            guard let text = String(validating: utf8, as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
            return text
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`: an integer when its value is
        /// integral and fits in Int64, else a finite Double.
        mutating func number() throws -> JSONValue {
            let start = offset
            if bytes[offset] == UInt8(ascii: "-") { offset += 1 }
            guard offset < bytes.count, isDigit(bytes[offset]) else { throw fail("invalid number") }
            if bytes[offset] == UInt8(ascii: "0") {
                offset += 1
                if offset < bytes.count, isDigit(bytes[offset]) { throw fail("leading zero in a number") }
            } else {
                while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
            }
            var integral = true
            if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
                integral = false
                offset += 1
                guard offset < bytes.count, isDigit(bytes[offset]) else { throw fail("invalid number") }
                while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
            }
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "e") || bytes[offset] == UInt8(ascii: "E") {
                integral = false
                offset += 1
                if offset < bytes.count, bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-") { offset += 1 }
                guard offset < bytes.count, isDigit(bytes[offset]) else { throw fail("invalid number") }
                while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
            if integral, let integer = Int64(text) { return .integer(integer) }
            guard let double = Double(text), double.isFinite else { throw fail("number out of range") }
            // As `JSONDecoder` reads `JSONValue`: an integral value in Int64's range (`1e3`, `2.0`)
            // is an integer.
            if !integral, double.rounded() == double, double >= -9.223372036854775808e18, double < 9.223372036854775808e18 {
                return .integer(Int64(double))
            }
            return .number(double)
        }

        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    }
}

/// Why a JSON text was refused, and where.
public struct JSONParseError: Error, CustomStringConvertible, Equatable {
    public let reason: String
    /// Byte offset of the problem.
    public let offset: Int
    /// The text nests deeper than the parser's `maxDepth` (the rest is not read).
    public var tooDeep = false

    public init(reason: String, offset: Int, tooDeep: Bool = false) {
        self.reason = reason
        self.offset = offset
        self.tooDeep = tooDeep
    }
    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}
