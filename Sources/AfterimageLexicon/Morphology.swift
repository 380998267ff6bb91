/// WordNet's morphology (`morphy`): a word's base forms per part of speech, from the exception
/// lists (`geese` → `goose`, `went` → `go`) and the detachment rules (`dozing` → `doze`), each
/// candidate kept only when the index has it.
extension WordNet {
    static let detachments: [PartOfSpeech: [(suffix: String, ending: String)]] = [
        .noun: [("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"), ("ies", "y")],
        .verb: [("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")],
        .adj: [("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
        .adv: [],
    ]

    /// The base forms of `word` (lower case) in `pos`: the word itself when indexed, its exception
    /// entries, then what the detachment rules give; no duplicates, in that order.
    public func baseForms(_ word: String, _ pos: PartOfSpeech) -> [String] {
        guard !word.isEmpty, word.utf8.count <= 128 else { return [] }
        // Every prompt analysis and guard verdict asks again for the same words: remembered.
        let key = BaseFormKey(word: word, pos: pos)
        if let known = baseFormMemo.withLock({ $0[key] }) { return known }
        let forms = lookUpBaseForms(word, pos)
        baseFormMemo.withLock { table in
            if table.count >= Self.memoLimit { table.removeAll(keepingCapacity: true) }
            table[key] = forms
        }
        return forms
    }

    func lookUpBaseForms(_ word: String, _ pos: PartOfSpeech) -> [String] {
        var forms = [String]()
        func add(_ form: String) {
            if !forms.contains(form), contains(form, pos) { forms.append(form) }
        }
        add(word)
        for base in exceptions[pos]?[word] ?? [] { add(base) }
        for (suffix, ending) in Self.detachments[pos] ?? [] where word.hasSuffix(suffix) && word.count > suffix.count {
            var stem = String(word.dropLast(suffix.count)) + ending
            add(stem)
            // "running" → "runn" → "run", "stopped" → "stopp" → "stop": WordNet lists doubled
            // consonants in the exception lists only for irregular verbs.
            if ending.isEmpty, pos == .verb, stem.count > 2, let last = stem.last, stem.dropLast().last == last, !"aeiouls".contains(last) {
                stem.removeLast()
                add(stem)
            }
        }
        return forms
    }

    /// Every (base form, part of speech) of `word`.
    public func lemmas(_ word: String) -> [(lemma: String, pos: PartOfSpeech)] {
        PartOfSpeech.allCases.flatMap { pos in baseForms(word, pos).map { ($0, pos) } }
    }

    /// Whether any part of speech knows `word` after morphology.
    public func knows(_ word: String) -> Bool {
        PartOfSpeech.allCases.contains { !baseForms(word, $0).isEmpty }
    }
}
