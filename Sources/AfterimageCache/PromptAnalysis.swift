import Foundation

/// What the guard needs to know about one prompt, computed once per prompt.
public struct PromptAnalysis: Sendable, Equatable {
    /// Quoted text to render ('OPEN'), lower-cased, sorted.
    public var quoted: [String]
    /// `--name value` parameters.
    public var parameters: [String: String]
    /// Content words after filler removal, canonicalisation and plural folding, in order.
    public var words: [String]
    /// `words` with verb endings folded (for alignment).
    public var stems: [String]
    /// Counts and numbers, sorted.
    public var numbers: [String]
    /// Words that follow a negator.
    public var negated: Set<String>
    /// Content words neither the lexicon nor the word lists know (codes, ids, names, made-up
    /// words), sorted and unique: they must be equal for a hit (`unknown_token`).
    public var unknown: [String] = []
    /// The prompt had more than `PromptAnalyzer.maxTokens` words; only that many were read.
    public var truncated = false

    /// The text that is embedded and compared: the content words joined.
    public var embeddingText: String { words.joined(separator: " ") }

    /// This analysis with adjacent words joined where `other` has them as one word ("rain forest"
    /// beside "rainforest", "flower pot" beside "flowerpot"), so both sides compare the compound.
    public func joiningCompounds(of other: PromptAnalysis) -> PromptAnalysis {
        let targets = Set(other.words)
        guard words.count > 1 else { return self }
        var joinedWords = [String](), joinedStems = [String]()
        var index = 0
        while index < words.count {
            if index + 1 < words.count, targets.contains(words[index] + words[index + 1]), !targets.contains(words[index]) {
                joinedWords.append(words[index] + words[index + 1])
                joinedStems.append(words[index] + words[index + 1])
                index += 2
            } else {
                joinedWords.append(words[index])
                joinedStems.append(stems[index])
                index += 1
            }
        }
        var result = self
        result.words = joinedWords
        result.stems = joinedStems
        return result
    }
}

/// Turns prompts into `PromptAnalysis` with a vocabulary.
public struct PromptAnalyzer: Sendable {
    public let vocabulary: GuardVocabulary
    let unstemmed: Set<String>
    static let quoteExpression = try! NSRegularExpression(pattern: #"(?:^|[\s:(])['"]([^'"]+)['"]"#)
    static let parameterExpression = try! NSRegularExpression(pattern: #"--(\w+)(?:\s+([^\s-][^\s]*))?"#)
    static let wordExpression = try! NSRegularExpression(pattern: #"[\p{L}\p{N}]+(?:'[\p{L}]+)?"#)
    /// The most word tokens of a prompt the analysis reads.
    public static let maxTokens = 1_000

    public init(vocabulary: GuardVocabulary) {
        self.vocabulary = vocabulary
        self.unstemmed = vocabulary.unstemmed
    }

    public func analyze(_ prompt: String) -> PromptAnalysis {
        // ASCII is its own compatibility normal form, and has no curly quotes to straighten.
        let ascii = prompt.utf8.allSatisfy { $0 < 0x80 }
        var text = ascii ? prompt.lowercased() : prompt.precomposedStringWithCompatibilityMapping.lowercased()
            .replacingOccurrences(of: "\u{2019}", with: "'").replacingOccurrences(of: "\u{201C}", with: "\"")
            .replacingOccurrences(of: "\u{201D}", with: "\"")
        // The quote and parameter expressions cannot match without a quote or a `--`.
        let hasQuotes = text.utf8.contains(UInt8(ascii: "'")) || text.utf8.contains(UInt8(ascii: "\""))
        let hasParameters = Self.containsBytes(text, "--")
        let quoted = hasQuotes ? Self.matches(Self.quoteExpression, in: text).compactMap { $0[1] }.sorted() : []
        var parameters = [String: String]()
        if hasParameters {
            for match in Self.matches(Self.parameterExpression, in: text) {
                if let name = match[1] { parameters[name] = match[2] ?? "" }
            }
            text = Self.replace(Self.parameterExpression, in: text, with: " ")
        }
        if hasQuotes { text = Self.replace(Self.quoteExpression, in: text, with: " ") }
        for filler in vocabulary.fillers { text = Self.replace(filler, in: text, with: " ") }
        for (phrase, expression, replacement) in vocabulary.phrases where Self.containsBytes(text, phrase) {
            text = Self.replace(expression, in: text, with: replacement)
        }
        text = text.replacingOccurrences(of: "-", with: " ")
        let tokens = Self.matches(Self.wordExpression, in: text).compactMap { $0[0] }
        // Bounded work: past maxTokens the prompt is read no further (the guard refuses it as
        // too long; the embedder reads at most 256 tokens anyway).
        let raw = Array(tokens.prefix(Self.maxTokens))
        let lemmas = raw.map(lemma)
        let words = raw.enumerated().compactMap { index, word in vocabulary.stopwords.contains(word) ? nil : lemmas[index] }
            .filter { !vocabulary.stopwords.contains($0) }
        var numbers = [String]()
        for word in words {
            if let value = vocabulary.numbers[word] {
                numbers.append(value)
            } else if Self.isNumeral(word) {
                numbers.append(word)
            }
        }
        var negated = Set<String>()
        for (index, word) in lemmas.enumerated() where vocabulary.negators.contains(word) {
            if let next = lemmas[(index + 1)...].prefix(2).first(where: { !vocabulary.stopwords.contains($0) }) { negated.insert(next) }
        }
        var unknown = Set<String>()
        let numberSet = Set(numbers)
        for (index, word) in raw.enumerated() where !vocabulary.stopwords.contains(word) && !vocabulary.stopwords.contains(lemmas[index]) {
            let lemma = lemmas[index]
            if numberSet.contains(lemma) || vocabulary.numbers[lemma] != nil || vocabulary.knows(lemma) || vocabulary.knows(word) { continue }
            unknown.insert(lemma)
        }
        return PromptAnalysis(
            quoted: quoted, parameters: parameters, words: words,
            stems: words.map { unstemmed.contains($0) ? $0 : stem($0) },
            numbers: numbers.sorted(), negated: negated, unknown: unknown.sorted(), truncated: tokens.count > Self.maxTokens
        )
    }

    func canonical(_ word: String) -> String { vocabulary.canonical[word] ?? word }

    /// `^\d+(s|th|st|nd|rd|mm|k)?$` without compiling a regular expression per word: ASCII
    /// digits (as ICU's `\d` also takes other scripts' digits, those too), then one of the suffixes.
    public static func isNumeral(_ word: String) -> Bool {
        var digits = word.unicodeScalars.startIndex
        let scalars = word.unicodeScalars
        while digits < scalars.endIndex, scalars[digits].properties.numericType == .decimal { digits = scalars.index(after: digits) }
        guard digits > scalars.startIndex else { return false }
        return ["", "s", "th", "st", "nd", "rd", "mm", "k"].contains(String(scalars[digits...]))
    }

    /// Canonical form, then WordNet's noun base form (`geese` → `goose`, `bookshelves` →
    /// `bookshelf`; a word the noun index has as it is stays), then canonical again. Words the
    /// lexicon does not know are folded by plain plural rules.
    func lemma(_ input: String) -> String {
        // Possessives are their noun: "a child's drawing", "the app's page".
        let bare = input.hasSuffix("'s") && input.count > 2 ? String(input.dropLast(2)) : input
        var word = canonical(bare)
        if vocabulary.stopwords.contains(word) || vocabulary.light.contains(word) { return word }
        if let lexicon = vocabulary.lexicon, lexicon.knows(word) {
            // "was" is not the plural of "wa": irregular verb forms and short words stay.
            guard let base = lexicon.wordNet.baseForms(word, .noun).first, base.count >= 3,
                  lexicon.wordNet.exceptions[.verb]?[word] == nil else { return word }
            return canonical(base)
        }
        if word.count > 4, word.hasSuffix("ies") {
            word = String(word.dropLast(3)) + "y"
        } else if word.count > 4, ["sses", "xes", "ches", "shes"].contains(where: word.hasSuffix) {
            // `(ss|x|ch|sh)es$` without compiling a regular expression per word.
            word = String(word.dropLast(2))
        } else if word.count > 3, word.hasSuffix("s"), !word.hasSuffix("ss"), !word.hasSuffix("us") {
            word = String(word.dropLast())
        }
        return canonical(word)
    }

    /// The verb base form WordNet gives (`dozing` → `doze`, `sitting` → `sit`), else `stem`.
    func stem(_ word: String) -> String {
        if let base = vocabulary.lexicon?.wordNet.baseForms(word, .verb).first { return canonical(Self.stem(base)) }
        return canonical(Self.stem(word))
    }

    /// Folds -ing / -ed / final -e so "reads", "reading" and "read" meet.
    static func stem(_ input: String) -> String {
        var word = Array(input)
        func undouble() {
            if word.count > 2, word[word.count - 1] == word[word.count - 2], !"ls".contains(word[word.count - 1]) { word.removeLast() }
        }
        if word.count > 5, input.hasSuffix("ing") {
            word.removeLast(3)
            undouble()
        } else if word.count > 4, input.hasSuffix("ed") {
            word.removeLast(2)
            undouble()
        }
        if word.count > 3, word.last == "e" { word.removeLast() }
        return String(word)
    }

    static func matches(_ expression: NSRegularExpression, in text: String) -> [[String?]] {
        let range = NSRange(text.startIndex..., in: text)
        return expression.matches(in: text, range: range).map { match in
            (0..<match.numberOfRanges).map { group in
                Range(match.range(at: group), in: text).map { String(text[$0]) }
            }
        }
    }

    /// Whether `needle`'s UTF-8 bytes occur in `text`'s: a literal pre-check, as literal as the
    /// expressions it guards (which match code points, not canonical equivalents), without
    /// Foundation's `contains` (a `CFStringFind` per phrase per analysis showed in the miss profile).
    public static func containsBytes(_ text: String, _ needle: String) -> Bool {
        var text = text, needle = needle
        return text.withUTF8 { haystack in
            needle.withUTF8 { pattern in
                guard let first = pattern.first else { return true }
                guard pattern.count <= haystack.count, let base = haystack.baseAddress, let wanted = pattern.baseAddress else { return false }
                for start in 0...(haystack.count - pattern.count) where haystack[start] == first {
                    if memcmp(base + start, wanted, pattern.count) == 0 { return true }
                }
                return false
            }
        }
    }

    static func replace(_ expression: NSRegularExpression, in text: String, with template: String) -> String {
        expression.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: NSRegularExpression.escapedTemplate(for: template))
    }
}
