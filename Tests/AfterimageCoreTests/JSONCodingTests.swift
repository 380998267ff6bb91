import AfterimageCore
import Foundation
import Testing

/// `JSONParser` and `JSONWriter` against Foundation's `JSONDecoder`/`JSONEncoder.afterimage`,
/// which they replace on the request path: the same bytes out, the same values in, and hostile
/// text refused without a crash.
struct JSONCodingTests {
    static let scalars: [String] = ["a", "é", "日本", "🦊", "\"", "\\", "/", "\n", "\r", "\t", "\u{08}", "\u{0C}", "\u{01}", "\u{1F}", "\u{7F}", " ", "x y", "\u{2028}"]

    static func randomString(_ random: inout SplitMix64) -> String {
        let count = Int(random.next() % 8)
        return (0..<count).map { _ in scalars[Int(random.next() % UInt64(scalars.count))] }.joined()
    }

    static func randomValue(_ random: inout SplitMix64, depth: Int = 0) -> JSONValue {
        let kind = random.next() % (depth > 3 ? 5 : 7)
        switch kind {
        case 0: return .null
        case 1: return .bool(random.next() % 2 == 0)
        case 2:
            let choices: [Int64] = [0, 1, -1, 42, Int64.max, Int64.min, 1_700_000_000, -987_654_321]
            return .integer(random.next() % 3 == 0 ? choices[Int(random.next() % UInt64(choices.count))] : Int64(bitPattern: random.next()) >> Int64(random.next() % 60))
        case 3:
            let choices: [Double] = [0.5, -2.25, 1e-7, 3.141592653589793, 1.5e300, -1e-300, 0.1, 123456.789, 2.0e20, 1e16]
            return .number(choices[Int(random.next() % UInt64(choices.count))])
        case 4: return .string(randomString(&random))
        case 5: return .array((0..<Int(random.next() % 4)).map { _ in randomValue(&random, depth: depth + 1) })
        default:
            var members = [String: JSONValue]()
            for _ in 0..<Int(random.next() % 5) { members[randomString(&random)] = randomValue(&random, depth: depth + 1) }
            return .object(members)
        }
    }

    @Test func writerMatchesFoundationByteForByte() throws {
        var random = SplitMix64(seed: 7)
        for _ in 0..<2_000 {
            let value = Self.randomValue(&random)
            let ours = JSONWriter.bytes(value)
            let foundation = [UInt8](try JSONEncoder.afterimage.encode(value))
            #expect(ours == foundation, "\(String(decoding: ours, as: UTF8.self)) vs \(String(decoding: foundation, as: UTF8.self))")
        }
    }

    @Test func parserReadsWhatFoundationReads() throws {
        var random = SplitMix64(seed: 11)
        for _ in 0..<2_000 {
            let value = Self.randomValue(&random)
            let text = try JSONEncoder.afterimage.encode(value)
            let ours = try JSONParser.parse(text)
            let foundation = try JSONDecoder().decode(JSONValue.self, from: text)
            #expect(ours == foundation, "\(String(decoding: text, as: UTF8.self))")
        }
        // Hand-written texts: whitespace, escapes, surrogate pairs, exponents, big integers.
        for text in [
            #" { "a" : [ 1 , 2.5 , -0 , 1e3 , 1E-2 , true , false , null ] } "#, #""\u00e9\ud83e\udd8a\/\b\f\n\r\t\"\\""#,
            "[18446744073709551616, -9223372036854775808, 9223372036854775807]", #"{"a":1,"a":2}"#, "[]", "{}", "\"\"", "0", "-1.5e-3",
        ] {
            let data = Data(text.utf8)
            let foundation = try JSONDecoder().decode(JSONValue.self, from: data)
            #expect(try JSONParser.parse(data) == foundation, "\(text)")
        }
    }

    @Test func parserRefusesHostileText() {
        let hostile: [String] = [
            "", " ", "{", "[1,]", "{\"a\":1,}", "[1 2]", "01", "-", "1.", ".5", "1e", "+1", "NaN", "Infinity", "1e400", "-1e400",
            "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\u{01}b\"", "tru", "nul", "[1] x",
            "{\"a\" 1}", "{1:2}", "[\"a\"", String(repeating: "[", count: 100_000), String(repeating: "{\"a\":", count: 100_000),
        ]
        for text in hostile {
            #expect(throws: JSONParseError.self, "\(text.prefix(40))") { try JSONParser.parse(Data(text.utf8)) }
        }
        // Invalid UTF-8 inside a string, raw and after an escape.
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Data([0x22, 0xFF, 0x22])) }
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Data([0x22, 0x5C, 0x6E, 0xC3, 0x22])) }
        // The depth bound is exact.
        #expect((try? JSONParser.parse(Data((String(repeating: "[", count: 8) + String(repeating: "]", count: 8)).utf8), maxDepth: 8)) != nil)
        #expect(throws: JSONParseError.self) {
            try JSONParser.parse(Data((String(repeating: "[", count: 9) + String(repeating: "]", count: 9)).utf8), maxDepth: 8)
        }
        // Too deep is told apart (the request parser names it), also when the text is cut off there.
        for text in [String(repeating: "[", count: 9), String(repeating: "{\"a\":", count: 9) + "1"] {
            let error = #expect(throws: JSONParseError.self) { try JSONParser.parse(Data(text.utf8), maxDepth: 8) }
            #expect(error?.tooDeep == true)
        }
        let shallow = #expect(throws: JSONParseError.self) { try JSONParser.parse(Data("[[1,]]".utf8), maxDepth: 8) }
        #expect(shallow?.tooDeep == false)
    }

    @Test func writerEscapesControlCharactersAndWritesNonFiniteAsNull() throws {
        let value: JSONValue = .object(["s": .string("a\u{00}b\u{1F}\"\\/"), "n": .number(.nan), "i": .number(.infinity)])
        let text = String(decoding: JSONWriter.bytes(value), as: UTF8.self)
        #expect(text == #"{"i":null,"n":null,"s":"a\u0000b\u001f\"\\/"}"#)
        // What it writes parses back.
        #expect(try JSONParser.parse(Data(text.utf8))["s"] == .string("a\u{00}b\u{1F}\"\\/"))
    }
}
