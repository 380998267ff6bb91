import AfterimageCore
import Foundation
import HTTPTypes
import Hummingbird

/// Finds the virtual key of a request (`Authorization: Bearer …` or `x-api-key`). The secret is
/// only hashed, never logged or stored.
struct Authenticator: Sendable {
    let keys: any KeyStore

    func authenticate(_ headers: HTTPFields, now: Date = Date()) async throws -> VirtualKey {
        guard let secret = Self.presentedSecret(headers) else {
            throw AfterimageError.unauthorized("Missing API key: send 'Authorization: Bearer sk-af-…' or 'x-api-key'.")
        }
        guard let key = try await keys.find(secretHash: KeySecret.hash(secret)) else {
            throw AfterimageError.unauthorized("Invalid API key (\(KeySecret.displayPrefix(secret))…).")
        }
        if key.revokedAt != nil {
            throw AfterimageError.unauthorized("API key \(key.id) has been revoked.")
        }
        if let expiresAt = key.expiresAt, expiresAt <= now {
            throw AfterimageError.unauthorized("API key \(key.id) expired at \(KeyExpiry.format(expiresAt)).")
        }
        return key
    }

    static func presentedSecret(_ headers: HTTPFields) -> String? {
        if let authorization = headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                let token = parts[1].trimmingCharacters(in: .whitespaces)
                if !token.isEmpty { return token }
            }
        }
        if let apiKey = headers[HTTPField.Name("x-api-key")!]?.trimmingCharacters(in: .whitespaces), !apiKey.isEmpty {
            return apiKey
        }
        return nil
    }
}
