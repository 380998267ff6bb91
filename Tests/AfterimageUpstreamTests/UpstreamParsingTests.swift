import AfterimageUpstream
import Foundation
import Testing

/// The upstream module's own rules, without a server: which addresses an image URL may resolve
/// to, and how an event stream is cut into events whatever its chunking.
@Suite struct UpstreamParsingTests {
    @Test(arguments: [
        ([127, 0, 0, 1], false), ([10, 1, 2, 3], false), ([169, 254, 169, 254], false), ([100, 64, 0, 1], false),
        ([172, 16, 0, 1], false), ([172, 32, 0, 1], true), ([192, 168, 1, 1], false), ([224, 0, 0, 1], false),
        ([255, 255, 255, 255], false), ([0, 0, 0, 0], false), ([8, 8, 8, 8], true), ([1, 2, 3], false),
    ] as [([UInt8], Bool)])
    func ipv4Ranges(address: [UInt8], isPublic: Bool) {
        #expect(AddressGuard.isPublic(address) == isPublic)
    }

    @Test func ipv6RangesIncludingEmbeddedIPv4() {
        func v6(_ prefix: [UInt8], _ suffix: [UInt8] = []) -> [UInt8] { prefix + Array(repeating: 0, count: 16 - prefix.count - suffix.count) + suffix }
        #expect(!AddressGuard.isPublic(v6([], [1])))  // ::1
        #expect(!AddressGuard.isPublic(v6([0xFE, 0x80])))  // link-local
        #expect(!AddressGuard.isPublic(v6([0xFD, 0x00])))  // unique local
        #expect(!AddressGuard.isPublic(v6([], [0xFF, 0xFF, 127, 0, 0, 1])))  // ::ffff:127.0.0.1
        #expect(!AddressGuard.isPublic(v6([0x20, 0x02, 10, 0, 0, 1])))  // 6to4 of a private address
        #expect(AddressGuard.isPublic(v6([0x26, 0x06, 0x47, 0x00], [1])))
    }

    @Test func eventsAreTheSameWhateverTheChunking() throws {
        let stream = Data("event: a\ndata: {\"x\":1}\n\n: comment\r\nevent: b\r\ndata: one\r\ndata: two\r\n\r\ndata: tail".utf8)
        var whole = ServerSentEventParser()
        let expected = try whole.feed(stream)
        let tail = whole.finish()
        #expect(expected.map(\.event) == ["a", "b"])
        #expect(expected.map(\.data) == ["{\"x\":1}", "one\ntwo"])
        #expect(tail?.data == "tail")
        for split in 1..<stream.count {
            var parser = ServerSentEventParser()
            let events = try parser.feed(stream.prefix(split)) + parser.feed(stream.dropFirst(split))
            #expect(events == expected, "split at \(split)")
            #expect(parser.finish()?.data == "tail")
        }
    }

    @Test func anEventPastTheLimitIsRefused() {
        var parser = ServerSentEventParser(maxEventBytes: 1024)
        #expect(throws: ServerSentEventParser.TooLarge.self) { try parser.feed(Data(String(repeating: "data: x", count: 500).utf8)) }
    }
}
