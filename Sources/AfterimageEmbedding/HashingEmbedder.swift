import AfterimageCore
import Foundation

/// Deterministic feature hashing of normalised word unigrams, bigrams and character trigrams into
/// a fixed dimension, L2-normalised. Needs no model files: for tiny deployments and fast tests;
/// never the default (it knows no synonyms).
public struct HashingEmbedder: Embedder {
    public let dimension: Int
    public let modelID: String
    public let provider = "local"

    public init(dimension: Int = 384) {
        self.dimension = max(8, dimension)
        self.modelID = "hashing-\(self.dimension)"
    }

    public func embed(_ texts: [String]) async throws -> [Embedding] {
        texts.map(embedOne)
    }

    /// Lower-cased NFKC words of letters and digits.
    public static func words(_ text: String) -> [String] {
        text.precomposedStringWithCompatibilityMapping.lowercased()
            .split(whereSeparator: { !($0.isLetter || $0.isNumber) })
            .map(String.init)
    }

    func embedOne(_ text: String) -> Embedding {
        let words = Self.words(text)
        var vector = [Float](repeating: 0, count: dimension)
        func add(_ feature: String, _ weight: Float) {
            let hash = FNV1a.hash(feature)
            let index = Int(hash % UInt64(dimension))
            vector[index] += (hash >> 63) == 0 ? weight : -weight
        }
        for (index, word) in words.enumerated() {
            add("w:" + word, 1)
            if index > 0 { add("b:" + words[index - 1] + " " + word, 0.7) }
            let padded = Array("<" + word + ">")
            if padded.count >= 3 {
                for start in 0...(padded.count - 3) { add("c:" + String(padded[start..<start + 3]), 0.35) }
            }
        }
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if norm > 0 { for i in vector.indices { vector[i] /= norm } }
        return Embedding(vector: vector, tokenCount: words.count)
    }
}
