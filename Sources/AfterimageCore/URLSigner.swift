import Crypto
import Foundation

/// Signs and verifies the proxy's own image URLs (`/v1/images/files/{id}.{ext}?expires=…&sig=…`)
/// with HMAC-SHA256 over the file name and the expiry.
public struct URLSigner: Sendable {
    /// Why a signed URL was refused.
    public enum Failure: Error, Equatable {
        /// The signature does not match (tampered or foreign) → 403.
        case invalidSignature
        /// The signature matches but the time has passed → 410.
        case expired
    }

    private let secret: Data
    /// Lifetime of new URLs, in seconds.
    public let lifetime: Int

    public init(secret: Data, lifetime: Int) {
        self.secret = secret
        self.lifetime = lifetime
    }

    /// Signature for a file name and expiry (unix seconds).
    public func signature(fileName: String, expires: Int) -> String {
        let message = Data("\(fileName):\(expires)".utf8)
        return Data(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: secret))).hexString
    }

    /// Path and query for `fileName`, valid until `now + lifetime`.
    public func signedPath(fileName: String, now: Date = Date()) -> String {
        let expires = Int(now.timeIntervalSince1970) + lifetime
        return "/v1/images/files/\(fileName)?expires=\(expires)&sig=\(signature(fileName: fileName, expires: expires))"
    }

    /// Checks signature first (so a tampered expiry is 403, not 410), then the time.
    public func verify(fileName: String, expires: String?, signature given: String?, now: Date = Date()) throws(Failure) {
        guard let expires, let expiresValue = Int(expires), let given else { throw .invalidSignature }
        let expected = signature(fileName: fileName, expires: expiresValue)
        guard KeySecret.constantTimeEquals(expected, given.lowercased()) else { throw .invalidSignature }
        guard Double(expiresValue) > now.timeIntervalSince1970 else { throw .expired }
    }
}
