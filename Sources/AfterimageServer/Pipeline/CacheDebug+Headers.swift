import AfterimageCache
import Foundation
import HTTPTypes

extension CacheDebug {
    /// `x-afterimage-cache` and, when known, `x-afterimage-cache-similarity`.
    var headers: HTTPFields {
        var fields: HTTPFields = [HTTPField.Name("x-afterimage-cache")!: headerValue]
        if let similarity = headerSimilarity {
            fields[HTTPField.Name("x-afterimage-cache-similarity")!] = String(format: "%.6f", similarity)
        }
        return fields
    }
}
