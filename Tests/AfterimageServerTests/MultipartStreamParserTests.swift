import AfterimageCore
@testable import AfterimageServer
import Foundation
import Testing

/// The client-body multipart parser, without a server: every split of a body gives the same
/// parts, and hostile bytes are errors, never traps.
@Suite struct MultipartStreamParserTests {
    struct Parsed: Equatable {
        var headers: [[String]] = []
        var bodies: [[UInt8]] = []
    }

    static func parse(_ body: [UInt8], boundary: String = "XyZ", chunks: [Int] = []) throws -> Parsed {
        let parser = try MultipartStreamParser(boundary: boundary, maxHeaderBytes: 1024)
        var parsed = Parsed()
        var currentHeaders = [String]()
        var currentBody = [UInt8]()
        parser.onHeader = { currentHeaders.append("\($0)=\($1)") }
        parser.onBody = { currentBody.append(contentsOf: $0) }
        parser.onPartComplete = {
            parsed.headers.append(currentHeaders)
            parsed.bodies.append(currentBody)
            currentHeaders = []
            currentBody = []
        }
        var offset = 0
        for size in chunks where offset < body.count {
            let end = min(body.count, offset + size)
            try parser.execute(body[offset..<end])
            offset = end
        }
        try parser.execute(body[offset...])
        try parser.finish()
        return parsed
    }

    /// Body bytes that nearly match the delimiter (CR, CRLF, CRLF--, CRLF--XyZ without the rest).
    static let tricky: [UInt8] = Array("a\r\nb\r\n-c\r\n--d\r\n--Xy\r".utf8) + [0x00, 0xFF, 0x80]

    static let sample: [UInt8] = Array((
        "preamble to ignore\r\n--XyZ\r\n"
            + "Content-Disposition: form-data; name=\"prompt\"\r\n\r\n"
            + "a cat\r\n--XyZ  \r\n"
            + "Content-Disposition: form-data; name=\"image\"; filename=\"é.png\"\r\nContent-Type: image/png\r\n\r\n"
    ).utf8) + tricky + Array("\r\n--XyZ\r\n\r\nno headers\r\n--XyZ--\r\nepilogue --XyZ\r\n".utf8)

    @Test func everySplitGivesTheSameParts() throws {
        let whole = try Self.parse(Self.sample)
        #expect(whole.headers == [
            ["Content-Disposition=form-data; name=\"prompt\""],
            ["Content-Disposition=form-data; name=\"image\"; filename=\"é.png\"", "Content-Type=image/png"],
            [],
        ])
        #expect(whole.bodies == [Array("a cat".utf8), Self.tricky, Array("no headers".utf8)])
        for split in 1..<Self.sample.count {
            #expect(try Self.parse(Self.sample, chunks: [split]) == whole, "split at \(split)")
        }
        #expect(try Self.parse(Self.sample, chunks: Array(repeating: 1, count: Self.sample.count)) == whole)
    }

    @Test func aBodyThatStartsWithTheDelimiterNeedsNoPreamble() throws {
        let parsed = try Self.parse(Array("--XyZ\r\nA: b\r\n\r\nx\r\n--XyZ--".utf8))
        #expect(parsed.bodies == [[UInt8(ascii: "x")]])
    }

    @Test(arguments: [
        ("--XyZ\r\n\u{80}bad: x\r\n\r\nx\r\n--XyZ--", "character not allowed"),
        ("--XyZ\r\nbad name: x\r\n\r\nx\r\n--XyZ--", "character not allowed"),
        ("--XyZ\r\n: x\r\n\r\nx\r\n--XyZ--", "no name"),
        ("--XyZ\r\nA: b\rc\r\n\r\nx\r\n--XyZ--", "bare CR"),
        ("--XyZjunk\r\nA: b\r\n\r\nx\r\n--XyZ--", "not followed by a line break"),
        ("--XyZ\r\nA: b\r\n\r\nx", "ends before the closing boundary"),
        ("no delimiter at all", "ends before the closing boundary"),
        ("", "ends before the closing boundary"),
    ])
    func malformedBodiesAreErrors(body: String, reason: String) throws {
        #expect(throws: AfterimageError.self) { try Self.parse(Array(body.utf8)) }
        do {
            _ = try Self.parse(Array(body.utf8))
        } catch let error as AfterimageError {
            #expect(error.message.contains(reason), "\(error.message)")
        }
    }

    @Test func rawHighBytesInHeaderNamesAreErrorsNotTraps() throws {
        for byte in UInt8(0x80)...UInt8(0xFF) {
            let body = Array("--XyZ\r\n".utf8) + [byte] + Array(": x\r\n\r\nx\r\n--XyZ--".utf8)
            #expect(throws: AfterimageError.self) { try Self.parse(body) }
        }
    }

    @Test func headerBlocksAndPaddingAreBounded() throws {
        let longHeader = "--XyZ\r\nA: " + String(repeating: "h", count: 2000) + "\r\n\r\nx\r\n--XyZ--"
        #expect(throws: AfterimageError.self) { try Self.parse(Array(longHeader.utf8)) }
        // An unterminated header line is refused once it passes the bound, not buffered forever.
        let parser = try MultipartStreamParser(boundary: "XyZ", maxHeaderBytes: 1024)
        try parser.execute(Array("--XyZ\r\nA: ".utf8))
        #expect(throws: AfterimageError.self) { try parser.execute([UInt8](repeating: 0x61, count: 4096)) }
        let padded = "--XyZ" + String(repeating: " ", count: 100) + "\r\nA: b\r\n\r\nx\r\n--XyZ--"
        #expect(throws: AfterimageError.self) { try Self.parse(Array(padded.utf8)) }
    }

    @Test(arguments: ["", String(repeating: "b", count: 71), "a\u{7F}", "é"])
    func badBoundariesAreRefused(boundary: String) {
        #expect(throws: AfterimageError.self) { try MultipartStreamParser(boundary: boundary, maxHeaderBytes: 1024) }
    }
}
