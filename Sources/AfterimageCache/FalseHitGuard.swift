import AfterimageCore
import AfterimageLexicon
import Foundation
import Synchronization

/// Decides whether a cached prompt's image may answer a new prompt, beyond their cosine: it refuses
/// when the prompts conflict (quoted text, `--` parameters, counts, negation, a word no lexicon
/// knows on one side only, colour/style/material/time/era words, size class, antonym switches,
/// colour or role re-binding) or when a content word of either side has no counterpart in the
/// other. A counterpart is the same lemma or stem, a compound, a light word, a WordNet relation
/// (synonym, close hypernym, derivation, also through a collocation such as `coffee shop`), or —
/// unless WordNet calls the two words antonyms or co-hyponyms (`cat`/`dog`) — a word whose
/// embedding is at least `wordSimilarity` close.
public struct FalseHitGuard: Sendable {
    /// The guard's answer; `rule` names what refused (for the lookup log and `cache eval`).
    public struct Verdict: Sendable, Equatable {
        public var allowed: Bool
        public var rule: GuardRefusal?
        public static let allow = Verdict(allowed: true, rule: nil)
        public static func refuse(_ rule: GuardRefusal) -> Verdict { Verdict(allowed: false, rule: rule) }
    }

    /// The most distinct content words a prompt may have for a semantic hit (beyond: `too_long`).
    public static let maxContentWords = 160
    /// The most word-pair relations one verdict may decide; past it, words count as unaligned.
    static let relationBudget = 6_000

    public let vocabulary: GuardVocabulary
    /// Minimum cosine between two single words' embeddings for them to count as counterparts.
    public let wordSimilarity: Float
    let words: WordEmbeddings

    public init(vocabulary: GuardVocabulary, embedder: any Embedder, wordSimilarity: Float = 0.75) {
        self.init(vocabulary: vocabulary, words: WordEmbeddings(embedder: embedder), wordSimilarity: wordSimilarity)
    }

    /// A guard sharing another's memo of word embeddings (`cache eval --folds` variants).
    init(vocabulary: GuardVocabulary, words: WordEmbeddings, wordSimilarity: Float = 0.75) {
        self.vocabulary = vocabulary
        self.wordSimilarity = wordSimilarity
        self.words = words
    }

    /// Whether `b` may be served `a`'s answer; `wordSimilarity` overrides the configured
    /// alignment bar (a namespace's or model's guard strictness).
    public func verdict(cached a: PromptAnalysis, incoming b: PromptAnalysis, wordSimilarity: Float? = nil) async -> Verdict {
        // Bounded work: prompts with more distinct content words than a long, detailed prompt has
        // are compared no further (a miss, never a wrong hit).
        guard !a.truncated, !b.truncated, Set(a.words).count <= Self.maxContentWords, Set(b.words).count <= Self.maxContentWords else {
            return .refuse(.tooLong)
        }
        let a = a.joiningCompounds(of: b), b = b.joiningCompounds(of: a)
        if let rule = conflict(a, b) { return .refuse(rule) }
        let bar = wordSimilarity ?? self.wordSimilarity
        var budget = Self.relationBudget
        var missingA = await unaligned(a, b, bar: bar, budget: &budget)
        if let first = missingA.first(where: { !isVerbForm($0.word) }) { return .refuse(first.refusal) }
        var missingB = await unaligned(b, a, bar: bar, budget: &budget)
        if let first = missingB.first(where: { !isVerbForm($0.word) }) { return .refuse(first.refusal) }
        if vocabulary.oneSidedVerbs {
            // "four friends sit around a campfire" / "four friends around a campfire": a verb the
            // other prompt has no counterpart for may go when the other prompt has no such verb of
            // its own ("a man eating" / "a man cooking" still refuses).
            let verbsA = missingA.filter { isVerbForm($0.word) }, verbsB = missingB.filter { isVerbForm($0.word) }
            if verbsB.isEmpty { missingA.removeAll { isVerbForm($0.word) } }
            if verbsA.isEmpty { missingB.removeAll { isVerbForm($0.word) } }
        }
        if let first = missingA.first ?? missingB.first { return .refuse(first.refusal) }
        return .allow
    }

    /// A verb form: an `-ing`/`-ed` word with a WordNet verb base, or a word WordNet knows only as a verb.
    func isVerbForm(_ word: String) -> Bool {
        guard let wordNet = vocabulary.lexicon?.wordNet, !wordNet.baseForms(word, .verb).isEmpty else { return false }
        if word.hasSuffix("ing") || word.hasSuffix("ed") { return true }
        return wordNet.baseForms(word, .noun).isEmpty && wordNet.baseForms(word, .adj).isEmpty
    }

    /// The first categorical conflict between the prompts, or nil.
    func conflict(_ a: PromptAnalysis, _ b: PromptAnalysis) -> GuardRefusal? {
        if a.quoted != b.quoted { return .quotedText }
        if a.parameters != b.parameters { return .parameters }
        if a.numbers != b.numbers { return .numbers }
        if a.negated != b.negated { return .negation }
        if a.unknown != b.unknown { return .unknownToken }
        let setA = Set(a.words), setB = Set(b.words)
        for category in vocabulary.categories {
            let defaults = category.name == "styles" ? vocabulary.defaultStyles : []
            let inA = setA.intersection(category.words).subtracting(defaults), inB = setB.intersection(category.words).subtracting(defaults)
            guard inA != inB else { continue }
            // Colours compare as written: WordNet calls crimson and scarlet red, a user may not.
            if category.name == "colours" || !sameMeaning(inA.subtracting(setB), in: setB) || !sameMeaning(inB.subtracting(setA), in: setA) {
                return .category(category.name)
            }
        }
        if setA.isDisjoint(with: vocabulary.sizesSmall) != setB.isDisjoint(with: vocabulary.sizesSmall)
            || setA.isDisjoint(with: vocabulary.sizesBig) != setB.isDisjoint(with: vocabulary.sizesBig) {
            return .size
        }
        for (left, right) in vocabulary.antonyms {
            let switched = (setA.contains(left) && !setB.contains(left) && setB.contains(right) && !setA.contains(right))
                || (setA.contains(right) && !setB.contains(right) && setB.contains(left) && !setA.contains(left))
            if switched { return .antonym(left, right) }
        }
        let colours = vocabulary.categories.first { $0.name == "colours" }?.words ?? []
        let bindingA = Self.bindings(a.words, keys: colours), bindingB = Self.bindings(b.words, keys: colours)
        for (noun, coloursA) in bindingA where bindingB[noun].map({ $0 != coloursA }) == true { return .colourBinding }
        if Self.roleSwap(a.words, b.words) { return .roleSwap }
        for (left, right) in vocabulary.antonyms {
            let before = { (words: [String], key: String) in Set(words.indices.filter { words[$0] == key && $0 > 0 }.map { words[$0 - 1] }) }
            if !before(a.words, left).isDisjoint(with: before(b.words, right)) || !before(a.words, right).isDisjoint(with: before(b.words, left)) {
                return .spatialBinding
            }
        }
        return nil
    }

    /// Whether every word of `words` has a WordNet synonym, similar-to or pertainym link
    /// (`modern`/`contemporary`) among `others`.
    func sameMeaning(_ words: Set<String>, in others: Set<String>) -> Bool {
        guard let lexicon = vocabulary.lexicon else { return words.isEmpty }
        return words.allSatisfy { word in
            others.contains { other in
                switch lexicon.relation(word, other) {
                case .sameLemma, .synonym, .derived: true
                default: false
                }
            }
        }
    }

    /// Noun → the key words (colours) right before it.
    static func bindings(_ words: [String], keys: Set<String>) -> [String: Set<String>] {
        var result = [String: Set<String>]()
        for index in words.indices.dropLast() where keys.contains(words[index]) && !keys.contains(words[index + 1]) {
            result[words[index + 1], default: []].insert(words[index])
        }
        return result
    }

    /// "a heron catching a frog" / "a frog catching a heron": same -ing word, neighbours swapped.
    static func roleSwap(_ a: [String], _ b: [String]) -> Bool {
        for i in a.indices where a[i].hasSuffix("ing") && i > 0 && i < a.count - 1 && a[i - 1] != a[i + 1] {
            for j in b.indices where b[j] == a[i] && j > 0 && j < b.count - 1 {
                if a[i - 1] == b[j + 1] && a[i + 1] == b[j - 1] { return true }
            }
        }
        return false
    }

    /// The content words of `a` with no counterpart in `b`, each with the refusal it makes; stops
    /// at the first that is not a verb form (it refuses whatever else is missing). `budget` bounds
    /// the word-pair relations decided.
    func unaligned(_ a: PromptAnalysis, _ b: PromptAnalysis, bar: Float, budget: inout Int) async -> [(word: String, refusal: GuardRefusal)] {
        let available = Set(b.stems).union(b.words)
        var pending = [Int]()
        for (index, (word, stem)) in zip(a.words, a.stems).enumerated() where !available.contains(word) && !available.contains(stem) {
            if vocabulary.light.contains(word) || vocabulary.light.contains(stem) || vocabulary.defaultStyles.contains(word) { continue }
            if b.words.indices.dropLast().contains(where: { b.words[$0] + b.words[$0 + 1] == word }) { continue }
            pending.append(index)
        }
        guard !pending.isEmpty else { return [] }
        // Per unaligned word, the words of `b` the lexicon says it must not stand for.
        var conflicts = [Int: [(word: String, relation: WordRelation)]]()
        if let lexicon = vocabulary.lexicon {
            // In `b`'s order, once each: the conflict a refusal names is then the same in every
            // process (a `Set`'s order changes from one run to the next).
            var seen = Set<String>()
            let unitsB = (b.words + Self.collocations(b.words, lexicon)).filter { seen.insert($0).inserted }
            // A verb's counterparts are the words of `b` that `a` does not already have: "laughing"
            // must not lean on a "joke" both prompts share.
            let ownA = Set(a.words).union(a.stems)
            let openB = unitsB.filter { !ownA.contains($0) }
            var aligned = Set<Int>()
            let pendingSet = Set(pending)
            for index in a.words.indices.dropLast() where pendingSet.contains(index) || pendingSet.contains(index + 1) {
                let collocation = a.words[index] + "_" + a.words[index + 1]
                guard lexicon.wordNet.contains(collocation, .noun), budget >= unitsB.count else { continue }
                budget -= unitsB.count
                if unitsB.contains(where: { lexicon.relation(collocation, $0).aligns }) { aligned.formUnion([index, index + 1]) }
            }
            pending.removeAll { aligned.contains($0) }
            var stillPending = [Int]()
            for index in pending {
                let units = isVerbForm(a.words[index]) ? openB : unitsB
                guard budget >= units.count else {
                    stillPending.append(index)
                    continue
                }
                budget -= units.count
                let relations = units.map { ($0, lexicon.relation(a.words[index], $0)) }
                if relations.contains(where: { $0.1.aligns }) { continue }
                conflicts[index] = relations.filter { $0.1.conflicts }.map { (word: $0.0, relation: $0.1) }
                stillPending.append(index)
            }
            pending = stillPending
        }
        guard !pending.isEmpty else { return [] }
        // One embedding call for every word this comparison may need.
        try? await words.prepare(pending.map { a.words[$0] } + b.words)
        var missing = [(word: String, refusal: GuardRefusal)]()
        for index in pending {
            let word = a.words[index]
            let excluded = Set(conflicts[index, default: []].map(\.word))
            let candidates = Array(Set(isVerbForm(word) ? b.words.filter { !a.words.contains($0) } : b.words).subtracting(excluded))
            if words.best(word, among: candidates) >= bar { continue }
            if let conflict = conflicts[index]?.first {
                missing.append((word, conflict.relation == .antonym ? .antonym(word, conflict.word) : .coHyponym(word, conflict.word)))
            } else {
                missing.append((word, .unaligned(word)))
            }
            if !isVerbForm(word) { break }
        }
        return missing
    }

    /// Adjacent word pairs the lexicon knows as one noun (`coffee_shop`, `fire_engine`).
    static func collocations(_ words: [String], _ lexicon: LexicalRelations) -> [String] {
        words.indices.dropLast().compactMap { index in
            let joined = words[index] + "_" + words[index + 1]
            return lexicon.wordNet.contains(joined, .noun) ? joined : nil
        }
    }
}

/// Single-word embeddings for alignment, memoised (bounded).
final class WordEmbeddings: Sendable {
    let embedder: any Embedder
    private let memo = MemoTable()

    init(embedder: any Embedder) {
        self.embedder = embedder
    }

    /// Embeds (in one call) the words the memo lacks.
    func prepare(_ words: [String]) async throws {
        let needed = Array(Set(words)).filter { memo.get($0) == nil }
        guard !needed.isEmpty else { return }
        let vectors = try await embedder.embed(needed)
        for (word, embedding) in zip(needed, vectors) { memo.set(word, embedding.vector) }
    }

    /// The best cosine of `word` against any candidate, from the memo (0 for a word not embedded).
    func best(_ word: String, among candidates: [String]) -> Float {
        guard let vector = memo.get(word) else { return 0 }
        return candidates.compactMap { memo.get($0) }.map { zip(vector, $0).reduce(0) { $0 + $1.0 * $1.1 } }.max() ?? 0
    }
}

/// A small thread-safe memo of word vectors, cleared when it grows past its bound.
final class MemoTable: Sendable {
    private let table = Mutex<[String: [Float]]>([:])
    private let limit = 20_000

    func get(_ key: String) -> [Float]? {
        table.withLock { $0[key] }
    }

    func set(_ key: String, _ value: [Float]) {
        table.withLock { table in
            if table.count >= limit { table.removeAll(keepingCapacity: true) }
            table[key] = value
        }
    }
}
