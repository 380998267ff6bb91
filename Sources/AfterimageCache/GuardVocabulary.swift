import AfterimageLexicon
import Foundation

/// The word lists of the false-hit guard, read from plain-text files (`Config/guard/*.txt`) so
/// admins can extend them without touching code, and the lexicon (WordNet) that relates words.
public struct GuardVocabulary: @unchecked Sendable {
    /// WordNet relations for aligning content words and telling unknown tokens; nil only in
    /// benchmarks that measure the index alone (no unknown-token rule, no lexical alignment).
    public var lexicon: LexicalRelations?
    /// A verb one prompt has and the other lacks may go unmatched when the other prompt has no
    /// unmatched verb of its own (`cache.guard.one_sided_verbs`).
    public var oneSidedVerbs = true
    /// Regular expressions removed from the lower-cased prompt (NSRegularExpression is immutable).
    public var fillers: [NSRegularExpression] = []
    public var stopwords: Set<String> = []
    /// Closed-class English words (`function-words.txt`): known, never unknown tokens.
    public var functionWords: Set<String> = []
    public var light: Set<String> = []
    public var negators: Set<String> = []
    public var numbers: [String: String] = [:]
    public var canonical: [String: String] = [:]
    /// Every canonical form (`canonical`'s values), known words even when the lexicon lacks them.
    public var canonicalForms: Set<String> = []
    /// Multi-word replacements, longest phrase first, each compiled once with word boundaries.
    public var phrases: [(phrase: String, expression: NSRegularExpression, replacement: String)] = []
    /// Category name → words; each category's set must be equal on both sides.
    public var categories: [(name: String, words: Set<String>)] = []
    /// Styles every prompt has unless it names another (`default-styles.txt`: photo).
    public var defaultStyles: Set<String> = []
    public var sizesSmall: Set<String> = []
    public var sizesBig: Set<String> = []
    public var antonyms: [(String, String)] = []

    public init() {}

    /// The vocabulary and lexicon `settings` name (`cache.guard.*`).
    public static func load(settings: CacheSettings) throws -> GuardVocabulary {
        var vocabulary = try load(directory: settings.vocabularyDirectory, wordNetDirectory: settings.wordNetDirectory, senses: settings.lexiconSenses, hypernymDepth: settings.hypernymDepth)
        vocabulary.oneSidedVerbs = settings.oneSidedVerbs
        return vocabulary
    }

    /// Reads every file of a vocabulary directory (names the file and line of any problem) and
    /// opens the WordNet database of `wordNetDirectory` with the given limits.
    public static func load(
        directory: String, wordNetDirectory: String = "/usr/share/wordnet", senses: Int = 3, hypernymDepth: Int = 1
    ) throws -> GuardVocabulary {
        var vocabulary = GuardVocabulary()
        do {
            vocabulary.lexicon = LexicalRelations(wordNet: try WordNet.open(directory: wordNetDirectory), senseLimit: senses, hypernymDepth: hypernymDepth)
        } catch let error as WordNetError {
            throw GuardVocabularyError(description: error.description)
        }
        func lines(_ name: String) throws -> [(Int, String)] {
            let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            guard let data = FileManager.default.contents(atPath: path) else {
                throw GuardVocabularyError(description: "guard vocabulary file \(path) is missing")
            }
            return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, raw in
                let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
                let trimmed = name == "filler.txt" ? String(raw).trimmingCharacters(in: .whitespaces) : line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || trimmed.hasPrefix("#") { return nil }
                return (index + 1, trimmed.lowercased())
            }
        }
        func words(_ name: String) throws -> Set<String> { Set(try lines(name).map(\.1)) }
        func pairs(_ name: String) throws -> [(String, String)] {
            try lines(name).map { number, line in
                let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw GuardVocabularyError(description: "\(name):\(number): expected 'word=value', got '\(line)'")
                }
                return (parts[0], parts[1])
            }
        }
        for (number, pattern) in try lines("filler.txt") {
            do {
                vocabulary.fillers.append(try NSRegularExpression(pattern: pattern))
            } catch {
                throw GuardVocabularyError(description: "filler.txt:\(number): invalid regular expression '\(pattern)'")
            }
        }
        vocabulary.stopwords = try words("stopwords.txt")
        vocabulary.functionWords = Set(try lines("function-words.txt").flatMap { $0.1.split(separator: " ").map(String.init) })
        vocabulary.light = try words("light.txt")
        vocabulary.negators = try words("negators.txt")
        vocabulary.numbers = Dictionary(try pairs("numbers.txt"), uniquingKeysWith: { _, last in last })
        // British → American spelling and vocabulary first; canonical.txt's own forms win.
        vocabulary.canonical = Dictionary(try pairs("british-american.txt") + pairs("canonical.txt"), uniquingKeysWith: { _, last in last })
        vocabulary.canonicalForms = Set(vocabulary.canonical.values)
        vocabulary.phrases = try pairs("phrases.txt").sorted { $0.0.count > $1.0.count }.map { phrase, replacement in
            let pattern = "\\b" + NSRegularExpression.escapedPattern(for: phrase) + "\\b"
            guard let expression = try? NSRegularExpression(pattern: pattern) else {
                throw GuardVocabularyError(description: "phrases.txt: cannot match '\(phrase)'")
            }
            return (phrase, expression, replacement)
        }
        vocabulary.categories = try ["colours", "styles", "materials", "times", "eras", "views"].map { name in (name, try words("\(name).txt")) }
        vocabulary.defaultStyles = try words("default-styles.txt")
        vocabulary.sizesSmall = try words("sizes-small.txt")
        vocabulary.sizesBig = try words("sizes-big.txt")
        vocabulary.antonyms = try lines("antonyms.txt").map { number, line in
            let parts = line.split(separator: " ").map(String.init)
            guard parts.count == 2 else { throw GuardVocabularyError(description: "antonyms.txt:\(number): expected two words") }
            return (parts[0], parts[1])
        }
        return vocabulary
    }

    /// Whether `word` is a word the guard knows: in the lexicon, or in one of the word lists.
    func knows(_ word: String) -> Bool {
        if stopwords.contains(word) || functionWords.contains(word) || light.contains(word) || numbers[word] != nil || canonical[word] != nil || canonicalForms.contains(word) { return true }
        if categories.contains(where: { $0.words.contains(word) }) || sizesSmall.contains(word) || sizesBig.contains(word) { return true }
        return lexicon?.knows(word) ?? true
    }

    /// Words that keep their surface form (never stemmed): every categorised word.
    var unstemmed: Set<String> {
        var set = negators.union(numbers.keys).union(sizesSmall).union(sizesBig)
        for category in categories { set.formUnion(category.words) }
        for (a, b) in antonyms { set.insert(a); set.insert(b) }
        return set
    }
}

/// A vocabulary file is missing or malformed.
public struct GuardVocabularyError: Error, CustomStringConvertible {
    public let description: String
}
