/// How two words relate in WordNet, for aligning the content words of two prompts.
public enum WordRelation: Sendable, Equatable, CustomStringConvertible {
    /// The same base form (`geese`/`goose`, `dozing`/`dozed`).
    case sameLemma
    /// A shared synset among the words' most frequent senses (`sofa`/`couch`).
    case synonym
    /// One is a kind of the other within the bounded distance (`feline`/`cat`).
    case hypernym(distance: Int)
    /// A direct lexical link: pertainym (`venetian`/`venice`), similar-to adjective (`huge`/`large`),
    /// participle, or a derivation across parts of speech (`rider`/`ride`).
    case derived
    /// WordNet lists them as antonyms (`open`/`closed`, `day`/`night`).
    case antonym
    /// Different kinds of one close hypernym (`cat`/`dog` under `carnivore`): different things.
    case coHyponym(ancestor: String)
    case unrelated

    /// The words may stand for each other.
    public var aligns: Bool {
        switch self {
        case .sameLemma, .synonym, .hypernym, .derived: true
        case .antonym, .coHyponym, .unrelated: false
        }
    }

    /// The words name different things: no other signal may align them.
    public var conflicts: Bool {
        switch self {
        case .antonym, .coHyponym: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .sameLemma: "same_lemma"
        case .synonym: "synonym"
        case .hypernym(let distance): "hypernym(\(distance))"
        case .derived: "derived"
        case .antonym: "antonym"
        case .coHyponym(let ancestor): "co_hyponym(\(ancestor))"
        case .unrelated: "unrelated"
        }
    }
}

/// Word-to-word decisions on a WordNet database, with bounded sense and distance limits.
public struct LexicalRelations: Sendable {
    public let wordNet: WordNet
    /// Senses considered per base form, most frequent first (rare senses make everything a synonym).
    public var senseLimit: Int
    /// The most hypernym steps between two words that may stand for each other (0 turns it off).
    public var hypernymDepth: Int
    /// The most steps from each word up to a shared hypernym that makes them co-hyponyms.
    public var coHyponymDepth: Int

    static let upward: Set<String> = ["@", "@i"]
    static let lexicalLinks: Set<String> = ["\\", "&", "<", "+"]

    public init(wordNet: WordNet, senseLimit: Int = 3, hypernymDepth: Int = 1, coHyponymDepth: Int = 2) {
        self.wordNet = wordNet
        self.senseLimit = max(1, min(senseLimit, 64))
        self.hypernymDepth = max(0, min(hypernymDepth, 6))
        self.coHyponymDepth = max(0, min(coHyponymDepth, 6))
    }

    /// Whether the lexicon knows `word` (after morphology; `'s` possessives count as their noun).
    public func knows(_ word: String) -> Bool {
        wordNet.knows(Self.bare(word))
    }

    /// The relation between two lower-case words (memoised per database and limits).
    public func relation(_ a: String, _ b: String) -> WordRelation {
        // No WordNet lemma is this long: a hostile token is decided without touching the memo.
        guard a.utf8.count <= 96, b.utf8.count <= 96 else { return a == b ? .sameLemma : .unrelated }
        let key = RelationKey(a: a, b: b, senses: senseLimit, hypernymDepth: hypernymDepth, coHyponymDepth: coHyponymDepth)
        if let known = wordNet.relationMemo.withLock({ $0[key] }) { return known }
        let decided = decide(a, b)
        wordNet.relationMemo.withLock { table in
            if table.count >= WordNet.memoLimit { table.removeAll(keepingCapacity: true) }
            table[key] = decided
        }
        return decided
    }

    func decide(_ a: String, _ b: String) -> WordRelation {
        let a = Self.bare(a), b = Self.bare(b)
        if a == b { return .sameLemma }
        let lemmasA = wordNet.lemmas(a), lemmasB = wordNet.lemmas(b)
        if !Set(lemmasA.map(\.lemma)).isDisjoint(with: lemmasB.map(\.lemma)) { return .sameLemma }
        let sensesA = senses(lemmasA), sensesB = senses(lemmasB)
        guard !sensesA.isEmpty, !sensesB.isEmpty else { return .unrelated }
        if !Set(sensesA).isDisjoint(with: sensesB) { return .synonym }
        let synsetsA = sensesA.compactMap(wordNet.synset), synsetsB = sensesB.compactMap(wordNet.synset)
        let setA = Set(sensesA), setB = Set(sensesB)
        if synsetsA.contains(where: { !setB.isDisjoint(with: $0.targets(["!"])) }) || synsetsB.contains(where: { !setA.isDisjoint(with: $0.targets(["!"])) }) {
            return .antonym
        }
        func linked(_ from: [Synset], _ to: Set<SynsetID>) -> Bool {
            from.contains { synset in
                synset.pointers.contains { pointer in
                    Self.lexicalLinks.contains(pointer.symbol) && to.contains(pointer.target)
                        && !(pointer.symbol == "+" && synset.id.pos == .noun && pointer.target.pos == .noun)
                }
            }
        }
        if linked(synsetsA, setB) || linked(synsetsB, setA) { return .derived }
        let ancestorsA = ancestors(of: sensesA, depth: max(hypernymDepth, coHyponymDepth))
        let ancestorsB = ancestors(of: sensesB, depth: max(hypernymDepth, coHyponymDepth))
        let up = sensesB.compactMap { ancestorsA[$0] }.min(), down = sensesA.compactMap { ancestorsB[$0] }.min()
        if let distance = [up, down].compactMap({ $0 }).min(), distance <= hypernymDepth { return .hypernym(distance: distance) }
        if up != nil || down != nil { return .unrelated }
        let shared = ancestorsA.filter { $0.value <= coHyponymDepth && (ancestorsB[$0.key] ?? .max) <= coHyponymDepth }
        if let closest = shared.min(by: { ($0.value + (ancestorsB[$0.key] ?? 0), $0.key.offset) < ($1.value + (ancestorsB[$1.key] ?? 0), $1.key.offset) }) {
            return .coHyponym(ancestor: wordNet.synset(closest.key)?.words.first ?? closest.key.description)
        }
        return .unrelated
    }

    /// The most frequent senses of each base form, in order, no duplicates.
    func senses(_ lemmas: [(lemma: String, pos: PartOfSpeech)]) -> [SynsetID] {
        var result = [SynsetID]()
        for (lemma, pos) in lemmas {
            for sense in (wordNet.senses(of: lemma, pos) ?? []).prefix(senseLimit) where !result.contains(sense) { result.append(sense) }
        }
        return result
    }

    /// Hypernyms (and instance hypernyms) of `start` within `depth` steps, with their distance.
    func ancestors(of start: [SynsetID], depth: Int) -> [SynsetID: Int] {
        var distance = [SynsetID: Int]()
        var frontier = start
        for step in 1...max(1, depth) where !frontier.isEmpty {
            var next = [SynsetID]()
            for id in frontier {
                for parent in wordNet.synset(id)?.targets(Self.upward) ?? [] where distance[parent] == nil {
                    distance[parent] = step
                    next.append(parent)
                }
            }
            frontier = next
        }
        return distance
    }

    /// `bird's` → `bird`: possessives are their noun.
    static func bare(_ word: String) -> String {
        word.hasSuffix("'s") && word.count > 2 ? String(word.dropLast(2)) : word
    }
}
