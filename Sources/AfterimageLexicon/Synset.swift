/// A WordNet part of speech; the raw value is the database file's suffix.
public enum PartOfSpeech: String, CaseIterable, Sendable, Hashable {
    case noun, verb, adj, adv

    /// The one-letter tag the data files use (`s`, an adjective satellite, is an adjective).
    init?(tag: UInt8) {
        switch tag {
        case UInt8(ascii: "n"): self = .noun
        case UInt8(ascii: "v"): self = .verb
        case UInt8(ascii: "a"), UInt8(ascii: "s"): self = .adj
        case UInt8(ascii: "r"): self = .adv
        default: return nil
        }
    }
}

/// A synset's address: its part of speech and byte offset in that part's data file.
public struct SynsetID: Sendable, Hashable, CustomStringConvertible {
    public var pos: PartOfSpeech
    public var offset: Int

    public init(pos: PartOfSpeech, offset: Int) {
        self.pos = pos
        self.offset = offset
    }

    public var description: String { "\(pos.rawValue):\(offset)" }
}

/// One pointer of a synset (`@` hypernym, `~` hyponym, `!` antonym, `&` similar to, `\` pertainym,
/// `+` derivationally related, `<` participle, `@i`/`~i` instance links, …).
public struct SynsetPointer: Sendable, Hashable {
    public var symbol: String
    public var target: SynsetID
    /// 0 for a semantic pointer (synset to synset), else the 1-based word in the source synset.
    public var sourceWord: Int
    /// 0 for a semantic pointer, else the 1-based word in the target synset.
    public var targetWord: Int
}

/// A parsed line of a `data.*` file.
public struct Synset: Sendable, Hashable {
    public var id: SynsetID
    /// Lower-cased lemmas, collocations joined by `_`, adjective markers (`(a)`, `(p)`) removed.
    public var words: [String]
    public var pointers: [SynsetPointer]

    /// The synsets this one points to with `symbols`.
    public func targets(_ symbols: Set<String>) -> [SynsetID] {
        pointers.lazy.filter { symbols.contains($0.symbol) }.map(\.target)
    }
}
