import AfterimageCache
import AfterimageCore
import HTTPTypes
import Hummingbird

/// Per-request cache controls from headers: `Cache-Control: no-cache` (skip lookup, still store),
/// `no-store` (do not store), `x-afterimage-cache-threshold` (may only raise the threshold),
/// `x-afterimage-cache-ttl` (seconds), `x-afterimage-cache-type` (`direct` | `semantic`);
/// the `x-bf-cache-*` names are accepted too. Invalid values are a 400 naming the header.
extension CacheControls {
    /// `maxTTLSeconds`: the namespace's entry lifetime; a TTL header may shorten it, never extend it.
    init(_ headers: HTTPFields, maxTTLSeconds: Int? = nil) throws {
        self.init()
        if let cacheControl = headers[.cacheControl]?.lowercased() {
            let directives = cacheControl.split(separator: ",").map(\.trimmedWhitespace)
            skipLookup = directives.contains("no-cache")
            noStore = directives.contains("no-store")
        }
        if let (name, value) = Self.value(headers, "cache-threshold") {
            guard let threshold = Float(value), threshold >= 0, threshold <= 1 else {
                throw AfterimageError.invalidPayload("Header '\(name)' must be a number between 0 and 1, got '\(LogText.echo(value))'.", param: name)
            }
            self.threshold = threshold
        }
        if let (name, value) = Self.value(headers, "cache-ttl") {
            guard let seconds = Self.seconds(value), seconds > 0 else {
                throw AfterimageError.invalidPayload("Header '\(name)' must be a positive number of seconds (or like 30m, 12h, 7d), got '\(LogText.echo(value))'.", param: name)
            }
            ttlSeconds = maxTTLSeconds.map { min(seconds, $0) } ?? seconds
        }
        if let (name, value) = Self.value(headers, "cache-type") {
            guard let type = LookupType(rawValue: value.lowercased()) else {
                throw AfterimageError.invalidPayload("Header '\(name)' must be 'direct' or 'semantic', got '\(LogText.echo(value))'.", param: name)
            }
            self.type = type
        }
    }

    /// The `x-afterimage-…` header, else its `x-bf-…` twin.
    static func value(_ headers: HTTPFields, _ suffix: String) -> (String, String)? {
        for name in ["x-afterimage-\(suffix)", "x-bf-\(suffix)"] {
            if let field = HTTPField.Name(name), let value = headers[field] {
                return (name, value.trimmedWhitespace)
            }
        }
        return nil
    }

    /// `3600`, or an age such as `30s`, `30m`, `12h`, `7d` (`AgeText`), as seconds.
    static func seconds(_ text: String) -> Int? {
        Int(text) ?? AgeText.seconds(text)
    }
}
