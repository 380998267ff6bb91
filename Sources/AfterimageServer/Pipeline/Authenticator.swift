import AfterimageCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Finds the virtual key of a request (`Authorization: Bearer …` or `x-api-key`). The secret is
/// only hashed, never logged or stored.
struct Authenticator: Sendable {
    let keys: any KeyStore
    var logger = Logger(label: "afterimage.auth")

    func authenticate(_ headers: HTTPFields, now: Date = Date()) async throws -> VirtualKey {
        guard let secret = Self.presentedSecret(headers) else {
            throw AfterimageError.unauthorized("Missing API key: send 'Authorization: Bearer sk-af-…' or 'x-api-key'.")
        }
        guard let key = try await keys.find(secretHash: KeySecret.hash(secret)) else {
            // The presented secret is never echoed, not even in part.
            throw AfterimageError.unauthorized("Invalid API key.")
        }
        if let field = key.unreadable {
            logger.error("key row does not decode; the key is refused", metadata: ["key_id": "\(key.id)", "field": "\(field)"])
            throw AfterimageError.unauthorized("API key \(key.id) cannot be used: its stored settings are unreadable (an admin must fix or reissue it).")
        }
        if key.revokedAt != nil {
            throw AfterimageError.unauthorized("API key \(key.id) has been revoked.")
        }
        if let expiresAt = key.expiresAt, expiresAt <= now {
            throw AfterimageError.unauthorized("API key \(key.id) expired at \(DateText.format(expiresAt)).")
        }
        return key
    }

    static func presentedSecret(_ headers: HTTPFields) -> String? {
        if let authorization = headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                let token = parts[1].trimmedWhitespace
                if !token.isEmpty { return token }
            }
        }
        if let apiKey = headers[HTTPField.Name("x-api-key")!]?.trimmedWhitespace, !apiKey.isEmpty {
            return apiKey
        }
        return nil
    }
}
