@testable import AfterimageLexicon
import Foundation
import Testing

/// WordNet loader, morphology and word relations, on words chosen here (none of them in the
/// public cache pairs).
@Suite struct WordNetTests {
    static let wordNet = try! WordNet.open(directory: "/usr/share/wordnet")
    let relations = LexicalRelations(wordNet: Self.wordNet)

    @Test(arguments: [("mice", "mouse"), ("wolves", "wolf"), ("churches", "church"), ("geese", "goose")])
    func nounBaseFormsFollowRulesAndExceptions(_ word: String, _ base: String) {
        #expect(Self.wordNet.baseForms(word, .noun).contains(base))
    }

    @Test(arguments: [("snoozing", "snooze"), ("ran", "run"), ("stopped", "stop"), ("hurried", "hurry"), ("swimming", "swim")])
    func verbBaseFormsFollowRulesAndExceptions(_ word: String, _ base: String) {
        #expect(Self.wordNet.baseForms(word, .verb).contains(base))
    }

    @Test func indexSearchFindsFirstLastAndCollocations() {
        #expect(Self.wordNet.contains("fire_engine", .noun))
        #expect(Self.wordNet.senses(of: "pencil", .noun)?.isEmpty == false)
        #expect(!Self.wordNet.contains("zentrova", .noun))
        #expect(!Self.wordNet.contains("", .noun))
        #expect(!Self.wordNet.contains(String(repeating: "a", count: 10_000), .noun))
        #expect(!Self.wordNet.contains("a b", .noun))
        // The first and last lemmas of the noun index (the licence header sorts before them).
        #expect(Self.wordNet.contains("'hood", .noun) || Self.wordNet.contains("'s_gravenhage", .noun))
        #expect(Self.wordNet.contains("zyrian", .noun))
    }

    @Test func synsetsParseWithPointers() throws {
        let sense = try #require(Self.wordNet.senses(of: "poodle", .noun)?.first)
        let synset = try #require(Self.wordNet.synset(sense))
        #expect(synset.words.contains("poodle"))
        #expect(!synset.targets(["@"]).isEmpty)
        #expect(Self.wordNet.synset(SynsetID(pos: .noun, offset: sense.offset + 1)) == nil, "an offset inside a line is not a synset")
        #expect(Self.wordNet.synset(SynsetID(pos: .noun, offset: -5)) == nil)
        #expect(Self.wordNet.synset(SynsetID(pos: .noun, offset: Int.max)) == nil)
    }

    @Test(arguments: [("automobile", "car"), ("physician", "doctor"), ("infant", "baby"), ("bucket", "pail")])
    func synonymsShareASynset(_ a: String, _ b: String) {
        #expect(relations.relation(a, b) == .synonym)
        #expect(relations.relation(a, b).aligns)
    }

    @Test func hypernymsWithinTheBoundAlign() {
        #expect(relations.relation("poodle", "dog") == .hypernym(distance: 1))
        #expect(relations.relation("dog", "poodle") == .hypernym(distance: 1))
        let strict = LexicalRelations(wordNet: Self.wordNet, hypernymDepth: 0)
        #expect(!strict.relation("poodle", "dog").aligns, "depth 0 turns hypernyms off")
    }

    @Test(arguments: [("violin", "cello"), ("apple", "pear"), ("hammer", "wrench")])
    func coHyponymsConflict(_ a: String, _ b: String) {
        let relation = relations.relation(a, b)
        #expect(relation.conflicts, "\(a)/\(b): \(relation)")
        #expect(!relation.aligns)
    }

    @Test(arguments: [("wet", "dry"), ("heavy", "light")])
    func antonymsConflict(_ a: String, _ b: String) {
        #expect(relations.relation(a, b) == .antonym)
    }

    @Test func derivationsSameLemmasAndStrangers() {
        #expect(relations.relation("lunar", "moon") == .derived)
        #expect(relations.relation("snoozing", "snoozed") == .sameLemma)
        #expect(relations.relation("pencil", "volcano") == .unrelated)
        #expect(relations.relation("zentrova", "zentrix") == .unrelated)
        let huge = String(repeating: "cat", count: 10_000)
        #expect(relations.relation(huge, "cat") == .unrelated && relations.relation(huge, huge) == .sameLemma)
        #expect(relations.knows("kettle's"))
        #expect(!relations.knows("7f020f3bc4d2"))
    }

    @Test func missingOrOversizedFilesAreNamed() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wordnet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect { try WordNet(directory: directory.path) } throws: { "\($0)".contains("index.noun") && "\($0)".contains("wordnet-base") }
        // A hostile database: garbage lines and a huge offset field must not crash the reader.
        for pos in PartOfSpeech.allCases {
            try Data("  licence\nzz n 1 0 1 0 99999999999999999999\nzzz n x y\n".utf8).write(to: directory.appendingPathComponent("index.\(pos.rawValue)"))
            try Data("00000000 03 n zz\n12 garbage | gloss\n".utf8).write(to: directory.appendingPathComponent("data.\(pos.rawValue)"))
            try Data("oxen\n".utf8).write(to: directory.appendingPathComponent("\(pos.rawValue).exc"))
        }
        let hostile = try WordNet(directory: directory.path)
        #expect(hostile.senses(of: "zz", .noun) == [])
        #expect(hostile.senses(of: "zzz", .noun) == nil)
        #expect(hostile.synset(SynsetID(pos: .noun, offset: 0)) == nil)
        #expect(LexicalRelations(wordNet: hostile).relation("zz", "zzz") == .unrelated)
    }

    /// Base forms are remembered, but a flood of distinct (hostile) words cannot grow the memo
    /// past its bound, and remembered answers equal fresh ones.
    @Test func baseFormMemoIsBoundedAndFaithful() {
        let wordNet = try! WordNet(directory: "/usr/share/wordnet")
        for index in 0..<(WordNet.memoLimit + 500) { _ = wordNet.baseForms("zq\(index)x", .noun) }
        #expect(wordNet.baseFormMemo.withLock { $0.count } <= WordNet.memoLimit)
        for word in ["running", "geese", "churches", "better"] {
            for pos in PartOfSpeech.allCases {
                #expect(wordNet.baseForms(word, pos) == wordNet.lookUpBaseForms(word, pos))
                #expect(wordNet.baseForms(word, pos) == wordNet.lookUpBaseForms(word, pos))
            }
        }
    }
}
