import AfterimageCore
import Foundation

/// The exact-match parts of a cache key.
public enum CacheKeys {
    /// Fields that never split the cache: stored bytes serve any of them.
    static let excluded: Set<String> = ["prompt", "response_format", "stream", "partial_images", "user", "fallbacks", "model"]

    /// The direct-hit form of a prompt: NFKC, case-folded, whitespace collapsed, surrounding punctuation trimmed.
    public static func normalizedPrompt(_ prompt: String) -> String {
        let folded = prompt.precomposedStringWithCompatibilityMapping.folding(options: [.caseInsensitive], locale: nil)
        let collapsed = folded.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        return collapsed.trimmingCharacters(in: CharacterSet.punctuationCharacters.union(.symbols).union(.whitespaces))
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
