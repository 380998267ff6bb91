/// What the cache did for one request. Rendered as text only at the edges (`cache_debug`,
/// headers, metric labels, the ledger's `cache` column).
public enum CacheOutcome: String, Sendable, Hashable, CaseIterable {
    /// Served from an entry with the same normalised prompt.
    case direct
    /// Served from a similar entry the guard allowed.
    case semantic
    /// Looked up, nothing served.
    case miss
    /// Not looked up (cache off, `no-cache`, or `no-store`).
    case bypass

    public var isHit: Bool { self == .direct || self == .semantic }
}

/// A logged semantic lookup's decision.
public enum LookupDecision: String, Sendable, Hashable {
    case semantic
    case miss
}

/// An admin's judgement of a logged lookup: was the candidate the same request?
public enum LookupLabel: String, Sendable, Hashable, CaseIterable {
    case same
    case different
}

/// Why a cached candidate was not served: below the threshold, no embedding, or one of the
/// false-hit guard's rules. `description` is the text stored and shown (`numbers`,
/// `antonym:left/right`, `unaligned:word`, a vocabulary category's name, …).
public enum GuardRefusal: Sendable, Hashable, CustomStringConvertible {
    case threshold
    case embeddingFailed
    case quotedText
    case parameters
    case numbers
    case negation
    case size
    case colourBinding
    case roleSwap
    case spatialBinding
    /// The prompts differ in a vocabulary category (`colours`, `styles`, …).
    case category(String)
    /// One prompt has `left` where the other has its antonym `right`.
    case antonym(String, String)
    /// A content word of one prompt has no counterpart in the other.
    case unaligned(String)
    /// A word neither the lexicon nor the word lists know (a code, an id, a name) is not in both prompts.
    case unknownToken
    /// A prompt has more distinct content words than the guard compares (a miss, never a wrong hit).
    case tooLong
    /// One prompt has `left` where the other has `right`, a different kind of one close hypernym
    /// (`cat`/`dog`).
    case coHyponym(String, String)

    private static let plain: [String: GuardRefusal] = [
        "threshold": .threshold, "embedding_failed": .embeddingFailed, "quoted_text": .quotedText, "parameters": .parameters,
        "numbers": .numbers, "negation": .negation, "size": .size, "colour_binding": .colourBinding, "role_swap": .roleSwap,
        "spatial_binding": .spatialBinding, "unknown_token": .unknownToken, "too_long": .tooLong,
    ]

    /// Reads the stored text back (anything unknown is a vocabulary category).
    public init(_ text: String) {
        if let plain = Self.plain[text] {
            self = plain
        } else if text.hasPrefix("antonym:") {
            let pair = text.dropFirst("antonym:".count).split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            self = .antonym(String(pair.first ?? ""), pair.count > 1 ? String(pair[1]) : "")
        } else if text.hasPrefix("co_hyponym:") {
            let pair = text.dropFirst("co_hyponym:".count).split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            self = .coHyponym(String(pair.first ?? ""), pair.count > 1 ? String(pair[1]) : "")
        } else if text.hasPrefix("unaligned:") {
            self = .unaligned(String(text.dropFirst("unaligned:".count)))
        } else {
            self = .category(text)
        }
    }

    public var description: String {
        switch self {
        case .threshold: "threshold"
        case .embeddingFailed: "embedding_failed"
        case .quotedText: "quoted_text"
        case .parameters: "parameters"
        case .numbers: "numbers"
        case .negation: "negation"
        case .size: "size"
        case .colourBinding: "colour_binding"
        case .roleSwap: "role_swap"
        case .spatialBinding: "spatial_binding"
        case .category(let name): name
        case .antonym(let left, let right): "antonym:\(Self.cut(left))/\(Self.cut(right))"
        case .unaligned(let word): "unaligned:\(Self.cut(word))"
        case .unknownToken: "unknown_token"
        case .tooLong: "too_long"
        case .coHyponym(let left, let right): "co_hyponym:\(Self.cut(left))/\(Self.cut(right))"
        }
    }

    /// The most bytes of a prompt word a refusal's text carries (a prompt may hold a 30 KB "word").
    public static let maxWordBytes = 64

    static func cut(_ word: String) -> String { LogText.prefix(word, maxBytes: maxWordBytes) }

    /// The same rule without the prompt's words, for logs that must not keep prompts
    /// (`keep_prompts: false`): `unaligned:…`, `co_hyponym:…/…`.
    public var redacted: GuardRefusal {
        switch self {
        case .unaligned: .unaligned("…")
        case .antonym: .antonym("…", "…")
        case .coHyponym: .coHyponym("…", "…")
        default: self
        }
    }

    /// Whether the false-hit guard refused (rather than the threshold or a failed embedding).
    public var isGuardRule: Bool {
        switch self {
        case .threshold, .embeddingFailed: false
        default: true
        }
    }
}
