import AfterimageCore
import AfterimageStorage
import Foundation

/// The HMAC secret of signed image URLs: from the configured env var, or created once (random,
/// 32 bytes, mode 0600) in `{data_dir}/signing.key` so URLs stay valid across restarts.
enum SigningSecret {
    static func load(configuration: AfterimageConfiguration) throws -> Data {
        if let secret = configuration.signingSecret { return Data(secret.utf8) }
        let url = configuration.dataDirectoryURL.appendingPathComponent("signing.key")
        if let existing = FileManager.default.contents(atPath: url.path), existing.count >= 32 {
            return existing
        }
        var generator = SystemRandomNumberGenerator()
        let secret = Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try DurableFile.write(secret, to: url, permissions: 0o600)
        return secret
    }
}
