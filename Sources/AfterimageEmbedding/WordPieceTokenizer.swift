import Foundation

/// BERT's uncased WordPiece tokenizer, exactly as sentence-transformers runs it for
/// all-MiniLM-L6-v2 (see `../shared/minilm/README.md`). Works on Unicode scalars throughout:
/// Swift's `String`/`Character` equality is canonical and grapheme-based, which is wrong here.
public struct WordPieceTokenizer: Sendable {
    /// Vocabulary keyed by the UTF-8 bytes of each piece (continuations carry their `##`).
    let vocabulary: [[UInt8]: Int32]
    public let maxLength: Int
    public let clsID: Int32
    public let sepID: Int32
    public let unknownID: Int32
    static let maxWordScalars = 100

    /// Loads `vocab.txt` (one piece per line, id = line number).
    public init(vocabularyFile path: String, maxLength: Int = 256) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Safetensors.FormatError(file: (path as NSString).lastPathComponent, problem: "cannot read the file")
        }
        var vocabulary = [[UInt8]: Int32]()
        var id: Int32 = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            var bytes = [UInt8](line)
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
            if vocabulary[bytes] == nil { vocabulary[bytes] = id }
            id += 1
        }
        if data.last == UInt8(ascii: "\n") { vocabulary[[]] = nil }
        try self.init(vocabulary: vocabulary, maxLength: maxLength)
    }

    /// A tokenizer over an in-memory vocabulary (piece → id).
    public init(vocabulary: [[UInt8]: Int32], maxLength: Int = 256) throws {
        func special(_ token: String) throws -> Int32 {
            guard let id = vocabulary[Array(token.utf8)] else {
                throw Safetensors.FormatError(file: "vocab.txt", problem: "the vocabulary has no \(token)")
            }
            return id
        }
        self.vocabulary = vocabulary
        self.maxLength = maxLength
        self.clsID = try special("[CLS]")
        self.sepID = try special("[SEP]")
        self.unknownID = try special("[UNK]")
    }

    /// `[CLS] pieces… [SEP]`, truncated to `maxLength` ids.
    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = [clsID]
        let budget = maxLength - 2
        outer: for word in words(normalize(Self.pythonStrip(text))) {
            for id in wordPiece(word) {
                if ids.count - 1 >= budget { break outer }
                ids.append(id)
            }
        }
        ids.append(sepID)
        return ids
    }

    // MARK: Steps

    /// Python's `str.strip()`: White_Space plus the information separators U+001C…U+001F.
    static func pythonStrip(_ text: String) -> [Unicode.Scalar] {
        let scalars = Array(text.unicodeScalars)
        func isSpace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace || (0x1C...0x1F).contains(s.value) }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }), let last = scalars.lastIndex(where: { !isSpace($0) }) else { return [] }
        return Array(scalars[first...last])
    }

    /// Clean, space CJK, strip accents (NFD, drop Mn), lowercase per scalar.
    func normalize(_ input: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var cleaned = String.UnicodeScalarView()
        for scalar in input {
            let value = scalar.value
            if value == 0 || value == 0xFFFD || Self.isControl(scalar) { continue }
            if Self.isWhitespace(scalar) {
                cleaned.append(" ")
            } else if Self.isCJK(value) {
                cleaned.append(" ")
                cleaned.append(scalar)
                cleaned.append(" ")
            } else {
                cleaned.append(scalar)
            }
        }
        let decomposed = String(cleaned).decomposedStringWithCanonicalMapping
        var out = [Unicode.Scalar]()
        out.reserveCapacity(decomposed.unicodeScalars.count)
        for scalar in decomposed.unicodeScalars where scalar.properties.generalCategory != .nonspacingMark {
            if scalar.isASCII {
                let v = scalar.value
                out.append((65...90).contains(v) ? Unicode.Scalar(v + 32)! : scalar)
            } else if scalar.properties.changesWhenLowercased {
                out.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return out
    }

    /// Whitespace split, then every punctuation scalar on its own.
    func words(_ text: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var words = [[Unicode.Scalar]]()
        var current = [Unicode.Scalar]()
        for scalar in text {
            if scalar == " " || Self.isWhitespace(scalar) {
                if !current.isEmpty { words.append(current); current = [] }
            } else if Self.isPunctuation(scalar) {
                if !current.isEmpty { words.append(current); current = [] }
                words.append([scalar])
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// Greedy longest-match-first; the whole word is `[UNK]` when it is too long or any part fails.
    func wordPiece(_ word: [Unicode.Scalar]) -> [Int32] {
        if word.count > Self.maxWordScalars { return [unknownID] }
        // UTF-8 offsets of each scalar boundary, so candidate pieces are byte slices.
        var utf8 = [UInt8]()
        var boundaries = [0]
        for scalar in word {
            utf8.append(contentsOf: String(scalar).utf8)
            boundaries.append(utf8.count)
        }
        var ids = [Int32]()
        var start = 0
        var key = [UInt8]()
        while start < word.count {
            var end = word.count
            var found: Int32?
            while start < end {
                key.removeAll(keepingCapacity: true)
                if start > 0 { key.append(contentsOf: [35, 35]) } // "##"
                key.append(contentsOf: utf8[boundaries[start]..<boundaries[end]])
                if let id = vocabulary[key] { found = id; break }
                end -= 1
            }
            guard let found else { return [unknownID] }
            ids.append(found)
            start = end
        }
        return ids
    }

    // MARK: Character classes

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == "\t" || scalar == "\n" || scalar == "\r" { return false }
        switch scalar.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x20, 0x09, 0x0A, 0x0D, 0x2028, 0x2029: return true
        default: return scalar.properties.generalCategory == .spaceSeparator
        }
    }

    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    static func isCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B920...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}
