import AfterimageCache
import AfterimageCore
import AfterimageEmbedding
import Foundation
import Testing

/// The guard's rules on sentences of our own (not the public pairs), with the hashing embedder so
/// only exact alignment counts.
@Suite struct FalseHitGuardTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let vocabulary = try! GuardVocabulary.load(directory: root.appendingPathComponent("Config/guard").path)
    let matcher = CacheMatcher(vocabulary: Self.vocabulary, embedder: HashingEmbedder(), wordSimilarity: 0.75)

    func verdict(_ a: String, _ b: String) async -> FalseHitGuard.Verdict {
        await matcher.falseHitGuard.verdict(cached: matcher.analyzer.analyze(a), incoming: matcher.analyzer.analyze(b))
    }

    @Test(arguments: [
        ("Please generate an image of a copper kettle on a stove", "copper kettle on a stove"),
        ("a grey mouse in a colourful theatre", "a gray mouse in a colorful theater"),
        ("Can you make me a lighthouse at sunset? Thanks!", "lighthouse at sunset"),
        ("tulips, windmill, watercolor --ar 3:2 --v 6", "watercolor, windmill, tulips --v 6 --ar 3:2"),
        ("A Bowl Of Cherries", "a bowl of cherries."),
    ])
    func allowsParaphrasesFillerSpellingAndReordering(_ a: String, _ b: String) async {
        let result = await verdict(a, b)
        #expect(result.allowed, "refused by \(result.rule?.description ?? "?")")
    }

    @Test(arguments: [
        ("a green umbrella in the rain", "a purple umbrella in the rain", "colours"),
        ("two owls on a branch", "seven owls on a branch", "numbers"),
        ("a toaster with no cord", "a toaster with a cord", "negation"),
        ("a shop sign reading 'SALE'", "a shop sign reading 'SOLD'", "quoted_text"),
        ("a desert road --ar 16:9", "a desert road --ar 9:16", "parameters"),
        ("a pencil sketch of a bicycle", "an oil painting of a bicycle", "styles"),
        ("a glass vase on a shelf", "a wooden vase on a shelf", "materials"),
        ("a harbour at dawn", "a harbour at midnight", "times"),
        ("a tiny dragon on a desk", "a huge dragon on a desk", "size"),
        ("a black hat and a white scarf", "a white hat and a black scarf", "colour_binding"),
        ("a fox chasing a rabbit", "a rabbit chasing a fox", "role_swap"),
        ("a lamp on the left, a chair on the right", "a lamp on the right, a chair on the left", "spatial_binding"),
    ])
    func refusesConflicts(_ a: String, _ b: String, _ rule: String) async {
        let result = await verdict(a, b)
        #expect(!result.allowed)
        #expect(result.rule?.description == rule)
        #expect(result.rule.map { GuardRefusal($0.description) } == result.rule, "the stored text reads back as the same refusal")
    }

    @Test(arguments: [
        ("an owl 7f020f3bc4d2 on a branch", "an owl 9a1c44e0b7d3 on a branch"),
        ("an app icon for Zentrova, flat design", "an app icon for Zentrix, flat design"),
        ("a 5kg kettlebell on a gym floor", "a 12kg kettlebell on a gym floor"),
        ("a mug for order QX2291", "a mug for order QX2297"),
        ("a portrait of Maelwen the ranger", "a portrait of Thessaly the ranger"),
        ("a poster for Zentrova", "a poster"),
    ])
    func refusesUnknownTokensThatDiffer(_ a: String, _ b: String) async {
        let result = await verdict(a, b)
        #expect(result.rule == .unknownToken, "got \(result.rule?.description ?? "allowed")")
        #expect(GuardRefusal("unknown_token") == .unknownToken)
    }

    @Test func unknownTokensOnBothSidesAndOtherRulesStillApply() async {
        #expect(await verdict("an app icon for Zentrova, flat design", "flat design app icon for Zentrova").allowed)
        #expect(await verdict("a tote bag printed 'Kestrel'", "a tote bag printed 'Osprey'").rule == .quotedText)
        #expect(await verdict("a 35mm photo of a tram", "a 50mm photo of a tram").rule == .numbers)
    }

    @Test func wordNetAlignsSynonymsAndHypernymsAndRefusesCoHyponyms() async {
        #expect(await verdict("an automobile parked by a barn", "a car parked by a barn").allowed)
        #expect(await verdict("a poodle asleep on a porch", "a dog asleep on a porch").allowed)
        #expect(await verdict("a bucket of water", "a pail of water").allowed)
        #expect(await verdict("a violin on a velvet cushion", "a cello on a velvet cushion").rule == .coHyponym("violin", "cello"))
        #expect(await verdict("a wet towel on a chair", "a dry towel on a chair").rule == .antonym("wet", "dry"))
        #expect(GuardRefusal("co_hyponym:violin/cello") == .coHyponym("violin", "cello"))
    }

    @Test func hostileLongPromptsAreBoundedAndRefused() async throws {
        // Thousands of distinct English words: compared no further (too_long), never served.
        let wordNet = try #require(Self.vocabulary.lexicon?.wordNet)
        let index = String(decoding: try Data(contentsOf: URL(fileURLWithPath: wordNet.directory + "/index.noun")), as: UTF8.self)
        let nouns = index.split(separator: "\n").dropFirst(40).compactMap { $0.split(separator: " ").first }
            .filter { $0.allSatisfy { $0.isLetter && $0.isASCII } && $0.count > 4 }.prefix(2_000).map(String.init)
        let many = nouns.joined(separator: " ")
        #expect(many.utf8.count <= 32_000 || nouns.count == 2_000)
        #expect(await verdict(many, many + " tea").rule == .tooLong)
        #expect(GuardRefusal("too_long") == .tooLong)
        // Just under the bound, every word different: the relation budget ends the work, still refused.
        let left = (0..<150).map { "w\($0)alpha" }.joined(separator: " "), right = (0..<150).map { "w\($0)beta" }.joined(separator: " ")
        #expect(await !verdict(left, right).allowed)
        let english = ["lantern", "harbour", "violin", "meadow", "copper", "sparrow", "kettle", "granite", "orchard", "saddle"]
        let realLeft = Array(english.prefix(5)).joined(separator: " and "), realRight = Array(english.suffix(5)).joined(separator: " and ")
        #expect(await !verdict(realLeft, realRight).allowed)
        #expect(wordNet.contains(english[0], .noun))
    }

    @Test func refusalTextsAreBoundedAndRedactable() {
        let huge = String(repeating: "x", count: 30_000)
        #expect(GuardRefusal.unaligned(huge).description.utf8.count <= "unaligned:".utf8.count + GuardRefusal.maxWordBytes)
        #expect(GuardRefusal.coHyponym(huge, huge).description.utf8.count <= 200)
        #expect(GuardRefusal.coHyponym("violin", "cello").redacted.description == "co_hyponym:…/…")
        #expect(GuardRefusal.unknownToken.redacted == .unknownToken)
    }

    @Test func refusesAddedAndRemovedObjects() async {
        #expect(await verdict("a desk with a lamp", "a desk with a lamp and a cactus").rule == .unaligned("cactus"))
        #expect(await !verdict("a kettle, a teapot and a mug", "a kettle and a mug").allowed)
    }

    @Test func vocabularyErrorsNameTheFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vocab-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        #expect(throws: GuardVocabularyError.self) { try GuardVocabulary.load(directory: directory.path) }
        do {
            _ = try GuardVocabulary.load(directory: directory.path)
        } catch {
            #expect("\(error)".contains("filler.txt"))
        }
    }

    /// The byte search that replaced Foundation's `contains` before the phrase and parameter
    /// expressions: the same answers as a literal search, at the edges and on multi-byte text.
    @Test func byteSearchAgreesWithALiteralSearch() {
        #expect(PromptAnalyzer.containsBytes("", ""))
        #expect(PromptAnalyzer.containsBytes("abc", ""))
        #expect(!PromptAnalyzer.containsBytes("", "a"))
        #expect(!PromptAnalyzer.containsBytes("ab", "abc"))
        #expect(PromptAnalyzer.containsBytes("a close up", "close up") && PromptAnalyzer.containsBytes("close up", "close up"))
        #expect(PromptAnalyzer.containsBytes("x--y", "--") && !PromptAnalyzer.containsBytes("x-y", "--"))
        var random = SplitMix64(seed: 5)
        let pieces = ["a", "b", " ", "-", "é", "e", "\u{301}", "日", "本", "🦊", "'"]
        for _ in 0..<5_000 {
            let text = (0..<Int(random.next() % 12)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
            let needle = (0..<Int(1 + random.next() % 3)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
            let literal = text.utf8.count >= needle.utf8.count
                && (0...(text.utf8.count - needle.utf8.count)).contains { Array(text.utf8.dropFirst($0).prefix(needle.utf8.count)) == Array(needle.utf8) }
            #expect(PromptAnalyzer.containsBytes(text, needle) == literal, "\(text) / \(needle)")
        }
        // Phrases still apply through the pre-check.
        let analyzer = matcher.analyzer
        #expect(analyzer.analyze("a close-up of a fox").words == analyzer.analyze("a closeup of a fox").words)
        #expect(analyzer.analyze("a cat --ar 16:9").parameters["ar"] == "16:9")
    }

    /// The numeral check that replaced a regular expression compiled per word agrees with it.
    @Test func numeralsAsTheOldExpressionSawThem() {
        var random = SplitMix64(seed: 21)
        let pieces = ["1", "2", "0", "9", "٣", "७", "s", "th", "st", "nd", "rd", "mm", "k", "x", "a", "½", "Ⅻ", "-", "'", "m", "t", "h"]
        for _ in 0..<5_000 {
            let word = (0..<Int(random.next() % 5)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
            let old = word.first?.isNumber == true && word.range(of: #"^\d+(s|th|st|nd|rd|mm|k)?$"#, options: .regularExpression) != nil
            #expect(PromptAnalyzer.isNumeral(word) == old, "\(word)")
        }
    }
}
