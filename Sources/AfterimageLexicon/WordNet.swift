import Foundation
import Synchronization

/// The WordNet 3.0 database as Debian's `wordnet-base` installs it (`/usr/share/wordnet`), read by
/// our own loader: the `index.*` files are searched in place (they are sorted), `data.*` lines are
/// parsed on demand by byte offset, and the `*.exc` morphology exception lists are loaded whole.
/// One instance per directory is shared by the whole process (`WordNet.open`).
public final class WordNet: Sendable {
    /// The most bytes one database file may have (the largest, `data.noun`, is 15 MB).
    public static let maxFileBytes = 64 << 20
    /// The most parsed synsets kept in memory; the memo is cleared past it.
    static let memoLimit = 50_000

    public let directory: String
    let index: [PartOfSpeech: [UInt8]]
    let data: [PartOfSpeech: [UInt8]]
    /// The morphology exception lists (`geese` → `goose`) per part of speech.
    public let exceptions: [PartOfSpeech: [String: [String]]]
    private let memo = Mutex<[SynsetID: Synset]>([:])
    /// Word-pair relations already decided, per limits (`LexicalRelations.relation`); bounded.
    let relationMemo = Mutex<[RelationKey: WordRelation]>([:])
    /// Base forms already found (`baseForms`), per word and part of speech; bounded like `memo`.
    let baseFormMemo = Mutex<[BaseFormKey: [String]]>([:])
    private static let opened = Mutex<[String: WordNet]>([:])

    /// The shared database of `directory`, read on first use — once, even when many gateways start
    /// at the same moment (the lock is held while the 28 MB are read).
    public static func open(directory: String) throws -> WordNet {
        try opened.withLock { table in
            if let existing = table[directory] { return existing }
            let loaded = try WordNet(directory: directory)
            table[directory] = loaded
            return loaded
        }
    }

    /// Reads the database files of `directory`; names a missing or oversized file.
    public init(directory: String) throws {
        self.directory = directory
        func read(_ name: String) throws -> [UInt8] {
            let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            guard let size = attributes?[.size] as? Int, let contents = FileManager.default.contents(atPath: path) else {
                throw WordNetError(description: "WordNet file \(path) is missing (install Debian's wordnet-base or set cache.guard.wordnet_dir)")
            }
            guard size <= Self.maxFileBytes, contents.count <= Self.maxFileBytes else {
                throw WordNetError(description: "WordNet file \(path) is larger than \(Self.maxFileBytes) bytes")
            }
            return [UInt8](contents)
        }
        var index = [PartOfSpeech: [UInt8]](), data = [PartOfSpeech: [UInt8]](), exceptions = [PartOfSpeech: [String: [String]]]()
        for pos in PartOfSpeech.allCases {
            index[pos] = try read("index.\(pos.rawValue)")
            data[pos] = try read("data.\(pos.rawValue)")
            var table = [String: [String]]()
            for line in String(decoding: try read("\(pos.rawValue).exc"), as: UTF8.self).split(separator: "\n") {
                let fields = line.split(separator: " ").map(String.init)
                guard fields.count >= 2 else { continue }
                table[fields[0], default: []].append(contentsOf: fields.dropFirst())
            }
            exceptions[pos] = table
        }
        self.index = index
        self.data = data
        self.exceptions = exceptions
    }

    /// The synsets of `lemma` (lower case, collocations joined by `_`) in `pos`, most frequent sense
    /// first, or nil when the lemma is not in that part's index.
    public func senses(of lemma: String, _ pos: PartOfSpeech) -> [SynsetID]? {
        guard let line = indexLine(lemma, pos) else { return nil }
        // lemma pos synset_cnt p_cnt [ptr_symbol…] sense_cnt tagsense_cnt synset_offset…
        let fields = line.split(separator: UInt8(ascii: " "))
        guard fields.count >= 4, let pointerCount = Int(ascii: fields[3]) else { return nil }
        let offsetsStart = 4 + pointerCount + 2
        guard offsetsStart <= fields.count else { return nil }
        return fields[offsetsStart...].compactMap { Int(ascii: $0).map { SynsetID(pos: pos, offset: $0) } }
    }

    /// Whether `lemma` is in `pos`'s index.
    public func contains(_ lemma: String, _ pos: PartOfSpeech) -> Bool { indexLine(lemma, pos) != nil }

    /// The parsed synset at `id`, or nil when the offset is not the start of a synset line.
    public func synset(_ id: SynsetID) -> Synset? {
        if let known = memo.withLock({ $0[id] }) { return known }
        guard let bytes = data[id.pos], id.offset >= 0, id.offset < bytes.count, id.offset == 0 || bytes[id.offset - 1] == UInt8(ascii: "\n") else { return nil }
        let end = bytes[id.offset...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
        guard let parsed = Self.parse(bytes[id.offset..<end], pos: id.pos), parsed.id.offset == id.offset else { return nil }
        memo.withLock { table in
            if table.count >= Self.memoLimit { table.removeAll(keepingCapacity: true) }
            table[id] = parsed
        }
        return parsed
    }

    /// `synset_offset lex_filenum ss_type w_cnt word lex_id … p_cnt ptr… [frames] | gloss`.
    static func parse(_ line: ArraySlice<UInt8>, pos: PartOfSpeech) -> Synset? {
        let body = line.split(separator: UInt8(ascii: "|"), maxSplits: 1, omittingEmptySubsequences: false).first ?? line[...]
        let fields = body.split(separator: UInt8(ascii: " "))
        guard fields.count >= 4, let offset = Int(ascii: fields[0]), let wordCount = Int(ascii: fields[3], radix: 16) else { return nil }
        var cursor = 4
        var words = [String]()
        for _ in 0..<wordCount {
            guard cursor + 1 < fields.count else { return nil }
            var word = String(decoding: fields[cursor], as: UTF8.self).lowercased()
            if word.hasSuffix(")"), let open = word.lastIndex(of: "(") { word = String(word[..<open]) }
            words.append(word)
            cursor += 2
        }
        guard cursor < fields.count, let pointerCount = Int(ascii: fields[cursor]) else { return nil }
        cursor += 1
        var pointers = [SynsetPointer]()
        for _ in 0..<pointerCount {
            guard cursor + 3 < fields.count, let target = Int(ascii: fields[cursor + 1]), let tag = fields[cursor + 2].first,
                  let targetPOS = PartOfSpeech(tag: tag), let link = Int(ascii: fields[cursor + 3], radix: 16) else { return nil }
            pointers.append(SynsetPointer(
                symbol: String(decoding: fields[cursor], as: UTF8.self), target: SynsetID(pos: targetPOS, offset: target),
                sourceWord: link >> 8, targetWord: link & 0xFF
            ))
            cursor += 4
        }
        return Synset(id: SynsetID(pos: pos, offset: offset), words: words, pointers: pointers)
    }

    /// Binary search of the sorted index file for the line whose first field is `lemma`.
    func indexLine(_ lemma: String, _ pos: PartOfSpeech) -> ArraySlice<UInt8>? {
        guard let bytes = index[pos], !lemma.isEmpty, lemma.utf8.count <= 128, !lemma.utf8.contains(UInt8(ascii: " ")) else { return nil }
        let key = Array(lemma.utf8)
        var low = 0, high = bytes.count
        while low < high {
            var start = (low + high) / 2
            while start > low, bytes[start - 1] != UInt8(ascii: "\n") { start -= 1 }
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            // The licence header's lines start with two spaces and sort before every lemma.
            if bytes[start] == UInt8(ascii: " ") {
                low = end + 1
                continue
            }
            let wordEnd = bytes[start..<end].firstIndex(of: UInt8(ascii: " ")) ?? end
            let word = bytes[start..<wordEnd]
            if word.elementsEqual(key) { return bytes[start..<end] }
            if key.lexicographicallyPrecedes(word) { high = start } else { low = end + 1 }
        }
        return nil
    }
}

/// A word and part of speech whose base forms were looked up.
struct BaseFormKey: Hashable {
    var word: String
    var pos: PartOfSpeech
}

/// A decided relation's key: both words and the limits it was decided under.
struct RelationKey: Hashable {
    var a: String, b: String
    var senses: Int, hypernymDepth: Int, coHyponymDepth: Int
}

/// The WordNet files are missing or malformed.
public struct WordNetError: Error, CustomStringConvertible {
    public let description: String
}

extension Int {
    /// Parses ASCII digits without allocating a String; nil on anything else or overflow.
    init?(ascii digits: ArraySlice<UInt8>, radix: Int = 10) {
        guard !digits.isEmpty, digits.count <= 12 else { return nil }
        var value = 0
        for byte in digits {
            let digit: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: digit = Int(byte - UInt8(ascii: "a")) + 10
            default: return nil
            }
            value = value * radix + digit
        }
        self = value
    }
}
