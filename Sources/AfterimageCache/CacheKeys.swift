import AfterimageCore
import Foundation

/// The exact-match parts of a cache key.
public enum CacheKeys {
    /// Fields that never split the cache: stored bytes serve any of them.
    static let excluded: Set<String> = ["prompt", "response_format", "stream", "partial_images", "user", "fallbacks", "model"]

    /// The direct-hit form of a prompt: NFKC, case-folded, whitespace collapsed, surrounding punctuation trimmed.
    public static func normalizedPrompt(_ prompt: String) -> String {
        asciiNormalized(prompt) ?? unicodeNormalized(prompt)
    }

    /// The general form (Foundation's NFKC, case folding and character sets).
    static func unicodeNormalized(_ prompt: String) -> String {
        let folded = prompt.precomposedStringWithCompatibilityMapping.folding(options: [.caseInsensitive], locale: nil)
        let collapsed = folded.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        return collapsed.trimmingCharacters(in: CharacterSet.punctuationCharacters.union(.symbols).union(.whitespaces))
    }

    /// The same normalisation for an all-ASCII prompt, without Foundation (whose NFKC and
    /// character-set trimming showed in the profile of every request): NFKC leaves ASCII alone,
    /// folding lowers A–Z, and every printable ASCII character that is not a letter or digit is
    /// punctuation or a symbol. Nil when the prompt has a non-ASCII byte. `CacheKeysTests`
    /// compare it with `unicodeNormalized` on random ASCII text.
    static func asciiNormalized(_ prompt: String) -> String? {
        var out = [UInt8]()
        out.reserveCapacity(prompt.utf8.count)
        var pendingSpace = false
        for byte in prompt.utf8 {
            guard byte < 0x80 else { return nil }
            // Unicode White_Space in ASCII: tab, line feed, vertical tab, form feed, return, space.
            if (0x09...0x0D).contains(byte) || byte == 0x20 {
                pendingSpace = !out.isEmpty
                continue
            }
            if pendingSpace {
                out.append(0x20)
                pendingSpace = false
            }
            out.append((0x41...0x5A).contains(byte) ? byte + 0x20 : byte)
        }
        func trimmed(_ byte: UInt8) -> Bool {
            byte == 0x20 || (0x21...0x2F).contains(byte) || (0x3A...0x40).contains(byte) || (0x5B...0x60).contains(byte) || (0x7B...0x7E).contains(byte)
        }
        guard let first = out.firstIndex(where: { !trimmed($0) }) else { return "" }
        let last = out.lastIndex(where: { !trimmed($0) })!
        return String(decoding: out[first...last], as: UTF8.self)
    }

    /// SHA-256 of the normalised prompt.
    public static func directKey(_ prompt: String) -> String {
        directKey(normalized: normalizedPrompt(prompt))
    }

    /// SHA-256 of an already normalised prompt.
    public static func directKey(normalized: String) -> String {
        Data(normalized.utf8).sha256Hex
    }

    /// SHA-256 of the canonical exact-match parameters: endpoint, provider and model, every other
    /// field (defaults filled in, `"1"` and `1` alike), and for edits the hash of each input image
    /// in order and of the mask.
    public static func partitionKey(_ request: ImageRequest, model: ModelCapability) -> String {
        var canonical: [String: JSONValue] = [
            "endpoint": .string(request.endpoint.rawValue),
            "provider": .string(model.provider),
            "model": .string(model.id),
            "n": .integer(Int64(request.imageCount)),
        ]
        for (name, value) in request.fields where !excluded.contains(name) && name != "n" {
            canonical[name] = canonicalValue(value)
        }
        if canonical["size"] == nil { canonical["size"] = .string(model.sizes.first ?? "auto") }
        if canonical["quality"] == nil, let quality = model.qualities.first { canonical["quality"] = .string(quality) }
        if request.endpoint == .edits {
            canonical["images"] = .array(request.images.map { .string($0.data.sha256Hex) })
            canonical["mask"] = request.mask.map { .string($0.data.sha256Hex) } ?? .null
        }
        let data = JSONWriter.data(JSONValue.object(canonical))
        return data.sha256Hex
    }

    /// Integers and booleans written as strings become numbers and booleans; strings are trimmed.
    static func canonicalValue(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text):
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if let integer = Int64(trimmed) { return .integer(integer) }
            if trimmed == "true" { return .bool(true) }
            if trimmed == "false" { return .bool(false) }
            if let number = Double(trimmed), number.isFinite { return .number(number) }
            return .string(trimmed)
        case .number(let number) where number.rounded() == number && abs(number) < 1e15:
            return .integer(Int64(number))
        case .array(let items):
            return .array(items.map(canonicalValue))
        case .object(let members):
            return .object(members.mapValues(canonicalValue))
        default:
            return value
        }
    }
}
