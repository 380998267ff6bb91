import AfterimageCore
import Foundation
import Synchronization

/// Decides whether a cached prompt's image may answer a new prompt, beyond their cosine: it refuses
/// when the prompts conflict (quoted text, `--` parameters, counts, negation, colour/style/material/
/// time/era words, size class, antonym switches, colour or role re-binding) or when a content word of
/// either side has no counterpart in the other (same lemma or stem, compound, light word, or a word
/// embedding at least `wordSimilarity` close).
public struct FalseHitGuard: Sendable {
    /// The guard's answer; `rule` names what refused (for the lookup log and `cache eval`).
    public struct Verdict: Sendable, Equatable {
        public var allowed: Bool
        public var rule: GuardRefusal?
        public static let allow = Verdict(allowed: true, rule: nil)
        public static func refuse(_ rule: GuardRefusal) -> Verdict { Verdict(allowed: false, rule: rule) }
    }

    public let vocabulary: GuardVocabulary
    /// Minimum cosine between two single words' embeddings for them to count as counterparts.
    public let wordSimilarity: Float
    let words: WordEmbeddings

    public init(vocabulary: GuardVocabulary, embedder: any Embedder, wordSimilarity: Float = 0.75) {
        self.vocabulary = vocabulary
        self.wordSimilarity = wordSimilarity
        self.words = WordEmbeddings(embedder: embedder)
    }

    /// Whether `b` may be served `a`'s answer; `wordSimilarity` overrides the configured
    /// alignment bar (a namespace's or model's guard strictness).
    public func verdict(cached a: PromptAnalysis, incoming b: PromptAnalysis, wordSimilarity: Float? = nil) async -> Verdict {
        if let rule = conflict(a, b) { return .refuse(rule) }
        let bar = wordSimilarity ?? self.wordSimilarity
        if let missing = await unaligned(a, b, bar: bar) { return .refuse(.unaligned(missing)) }
        if let missing = await unaligned(b, a, bar: bar) { return .refuse(.unaligned(missing)) }
        return .allow
    }

    /// The first categorical conflict between the prompts, or nil.
    func conflict(_ a: PromptAnalysis, _ b: PromptAnalysis) -> GuardRefusal? {
        if a.quoted != b.quoted { return .quotedText }
        if a.parameters != b.parameters { return .parameters }
        if a.numbers != b.numbers { return .numbers }
        if a.negated != b.negated { return .negation }
        let setA = Set(a.words), setB = Set(b.words)
        for category in vocabulary.categories where setA.intersection(category.words) != setB.intersection(category.words) {
            return .category(category.name)
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

    /// The first content word of `a` with no counterpart in `b`, or nil when all align.
    func unaligned(_ a: PromptAnalysis, _ b: PromptAnalysis, bar: Float) async -> String? {
        let available = Set(b.stems).union(b.words)
        var missing = [String]()
        for (word, stem) in zip(a.words, a.stems) where !available.contains(word) && !available.contains(stem) {
            if vocabulary.light.contains(word) || vocabulary.light.contains(stem) { continue }
            if b.words.indices.dropLast().contains(where: { b.words[$0] + b.words[$0 + 1] == word }) { continue }
            missing.append(word)
        }
        guard !missing.isEmpty else { return nil }
        let candidates = Array(Set(b.words))
        guard let similarities = try? await words.bestSimilarities(missing, among: candidates) else { return missing[0] }
        for (word, similarity) in zip(missing, similarities) where similarity < bar { return word }
        return nil
    }
}

/// Single-word embeddings for alignment, memoised (bounded).
final class WordEmbeddings: Sendable {
    let embedder: any Embedder
    private let memo = MemoTable()

    init(embedder: any Embedder) {
        self.embedder = embedder
    }

    /// For each word, the best cosine against any candidate.
    func bestSimilarities(_ words: [String], among candidates: [String]) async throws -> [Float] {
        guard !candidates.isEmpty else { return words.map { _ in 0 } }
        let needed = Array(Set(words + candidates)).filter { memo.get($0) == nil }
        if !needed.isEmpty {
            let vectors = try await embedder.embed(needed)
            for (word, embedding) in zip(needed, vectors) { memo.set(word, embedding.vector) }
        }
        let candidateVectors = candidates.compactMap { memo.get($0) }
        return words.map { word in
            guard let vector = memo.get(word) else { return 0 }
            return candidateVectors.map { zip(vector, $0).reduce(0) { $0 + $1.0 * $1.1 } }.max() ?? 0
        }
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
