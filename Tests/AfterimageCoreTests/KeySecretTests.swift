import AfterimageCore
import Foundation
import Testing

@Suite struct KeySecretTests {
    @Test func generatedKeysHaveSchemeAndLength() {
        let secret = KeySecret.generate()
        #expect(secret.hasPrefix("sk-af-"))
        let body = secret.dropFirst(6)
        #expect(body.count >= 32)
        #expect(body.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
        #expect(KeySecret.generate() != secret)
    }

    @Test func hashIsSHA256Hex() {
        #expect(KeySecret.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func constantTimeEquality() {
        #expect(KeySecret.constantTimeEquals("abc", "abc"))
        #expect(!KeySecret.constantTimeEquals("abc", "abd"))
        #expect(!KeySecret.constantTimeEquals("abc", "abcd"))
        #expect(!KeySecret.constantTimeEquals("", "a"))
    }

    @Test func expiryDatesRunThroughTheDay() throws {
        let date = try #require(DateText.parse("2030-01-31"))
        #expect(DateText.format(date) == "2030-02-01T00:00:00Z")
        #expect(DateText.parse("2030-01-31T12:00:00Z").map(DateText.format) == "2030-01-31T12:00:00Z")
        #expect(DateText.parse("next tuesday") == nil)
    }

    @Test func randomBase62UsesTheWholeAlphabetEvenly() {
        var counts = [UInt8: Int]()
        for _ in 0..<200 {
            let text = KeySecret.randomBase62(62)
            #expect(text.utf8.count == 62)
            for byte in text.utf8 { counts[byte, default: 0] += 1 }
        }
        // 12,400 draws over 62 symbols: 200 expected each; every symbol seen, none wildly off.
        #expect(Set(counts.keys) == Set(KeySecret.alphabet))
        #expect(counts.values.allSatisfy { (120...280).contains($0) })
        #expect(KeySecret.randomBase62(0).isEmpty && KeySecret.randomBase62(3).utf8.count == 3)
    }

    @Test func trimmedWhitespaceMatchesFoundation() {
        for text in ["", " ", "  a b  ", "\t\nsk-af-x\r\n", "\u{00A0}x\u{3000}", "abc", " é 🦊 ", "\u{2028}y"] {
            #expect(text.trimmedWhitespace == text.trimmingCharacters(in: .whitespacesAndNewlines), "\(text.debugDescription)")
        }
        #expect("  a  ".dropFirst().trimmedWhitespace == "a")
    }
}
