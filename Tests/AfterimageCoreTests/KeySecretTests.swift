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
}
