import AfterimageCore
import AfterimageTesting
import Foundation
import Testing

@Suite struct SignedURLTests {
    func fileURL(_ f: Fixture) async throws -> String {
        let reply = try await f.generate(["model": "gpt-image-1", "prompt": "signed", "response_format": "url"])
        return try #require(reply.json["data"]?.arrayValue?.first?["url"]?.stringValue)
    }

    @Test func tamperedSignatureIs403() async throws {
        try await withFixture { f in
            let url = try await fileURL(f)
            let lastCharacter = url.last == "0" ? "1" : "0"
            let tampered = try await f.get(String(url.dropLast()) + lastCharacter)
            #expect(tampered.status == 403)
            #expect(tampered.errorCode == "invalid_signature")
            let longer = try await f.get(url.replacingOccurrences(of: "expires=", with: "expires=9"))
            #expect(longer.status == 403)
            let unsigned = try await f.get(String(url.prefix(upTo: url.firstIndex(of: "?")!)))
            #expect(unsigned.status == 403)
        }
    }

    @Test func expiredURLIs410() async throws {
        try await withFixture(configure: { $0.signingSecret = "known-secret" }) { f in
            let url = try await fileURL(f)
            let fileName = String(url.split(separator: "/").last!.split(separator: "?")[0])
            let signer = URLSigner(secret: Data("known-secret".utf8), lifetime: 3600)
            let past = signer.signedPath(fileName: fileName, now: Date().addingTimeInterval(-7200))
            let expired = try await f.get(past)
            #expect(expired.status == 410)
            #expect(expired.errorCode == "expired")
            let fresh = try await f.get(signer.signedPath(fileName: fileName))
            #expect(fresh.status == 200)
        }
    }

    @Test func unknownFileWithValidSignatureIs404() async throws {
        try await withFixture(configure: { $0.signingSecret = "known-secret" }) { f in
            let signer = URLSigner(secret: Data("known-secret".utf8), lifetime: 3600)
            let reply = try await f.get(signer.signedPath(fileName: String(repeating: "ab", count: 32) + ".png"))
            #expect(reply.status == 404)
        }
    }
}
