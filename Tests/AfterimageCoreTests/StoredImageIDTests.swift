import AfterimageCore
import Foundation
import Testing

/// Which names can be a stored image's id: 64 lower-case ASCII hex digits, nothing else — the
/// orphan sweep deletes files by this test, and `GET /v1/files/…` looks rows up by it.
struct StoredImageIDTests {
    @Test func onlyLowerCaseASCIIHexOfSixtyFourDigits() {
        let valid = Data("x".utf8).sha256Hex
        #expect(StoredImage.isValidID(valid))
        #expect(StoredImage.isValidID(valid[...]), "substrings too")
        #expect(!StoredImage.isValidID(valid.uppercased()))
        #expect(!StoredImage.isValidID(String(valid.dropLast())))
        #expect(!StoredImage.isValidID(valid + "0"))
        #expect(!StoredImage.isValidID(""))
        // Full-width and other scripts' digits pass `Character.isHexDigit`; never an id here.
        #expect(!StoredImage.isValidID(String(valid.dropLast()) + "\u{FF10}"))
        #expect(!StoredImage.isValidID(String(valid.dropLast()) + "\u{0660}"))
        #expect(!StoredImage.isValidID(String(valid.dropLast()) + "g"))
        #expect(!StoredImage.isValidID(String(valid.dropLast(2)) + "é"), "64 characters but 65 bytes")
    }
}
