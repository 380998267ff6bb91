import AfterimageEmbedding
import Foundation
import Testing

/// One test per rule of the shared tokenizer README, on a small hand-made vocabulary.
@Suite struct TokenizerTests {
    static let pieces = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "red", "fox", "cafe", ",", ".", "!", "σ", "ς", "и", "play", "##ing",
        "##s", "un", "##aff", "##able", "中", "文", "8", "##k", "ᄒ", "##ᅡ", "##ᆫ", "é", "'",
    ]
    static let tokenizer: WordPieceTokenizer = {
        var vocabulary = [[UInt8]: Int32]()
        for (index, piece) in pieces.enumerated() { vocabulary[Array(piece.utf8)] = Int32(index) }
        return try! WordPieceTokenizer(vocabulary: vocabulary, maxLength: 12)
    }()

    func tokens(_ text: String) -> [String] {
        Self.tokenizer.encode(text).dropFirst().dropLast().map { Self.pieces[Int($0)] }
    }

    @Test func wrapsInCLSAndSEP() {
        let ids = Self.tokenizer.encode("a fox")
        #expect(ids.first == 2 && ids.last == 3)
    }

    @Test func stripsSurroundingWhitespaceAndSplitsPunctuation() {
        #expect(tokens("  a red fox, a fox!\n") == ["a", "red", "fox", ",", "a", "fox", "!"])
    }

    @Test func dropsControlAndFormatCharacters() {
        #expect(tokens("r\u{200B}ed f\u{00AD}ox\u{0000}") == ["red", "fox"])
    }

    @Test func mapsTabsNBSPAndLineSeparatorsToSpaces() {
        #expect(tokens("a\tred\u{00A0}fox\u{2028}a") == ["a", "red", "fox", "a"])
    }

    @Test func spacesCJKIdeographs() {
        #expect(tokens("中文") == ["中", "文"])
    }

    @Test func stripsAccentsAndKeepsHangulJamo() {
        #expect(tokens("café") == ["cafe"])
        #expect(tokens("й") == ["и"])
        #expect(tokens("한") == ["ᄒ", "##ᅡ", "##ᆫ"])
    }

    @Test func lowercasesEachScalarWithoutFinalSigma() {
        #expect(tokens("Σ") == ["σ"])
        #expect(tokens("A RED FOX") == ["a", "red", "fox"])
    }

    @Test func greedyLongestMatchWithContinuations() {
        #expect(tokens("playing") == ["play", "##ing"])
        #expect(tokens("unaffable") == ["un", "##aff", "##able"])
        #expect(tokens("8k") == ["8", "##k"])
    }

    @Test func unmatchableOrOverlongWordsBecomeUNK() {
        #expect(tokens("xyz") == ["[UNK]"])
        #expect(tokens("playingx") == ["[UNK]"])
        #expect(tokens("🏖️😎") == ["[UNK]"], "emoji are not punctuation")
        #expect(tokens(String(repeating: "a", count: 101)) == ["[UNK]"])
    }

    @Test func truncatesToMaxLength() {
        let ids = Self.tokenizer.encode(String(repeating: "a ", count: 50))
        #expect(ids.count == 12)
        #expect(ids.last == 3)
    }

    @Test func emptyTextIsJustCLSAndSEP() {
        #expect(Self.tokenizer.encode("   ") == [2, 3])
    }
}
