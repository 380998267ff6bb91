import AfterimageCore
import Foundation
import Testing

@Suite struct URLSignerTests {
    let signer = URLSigner(secret: Data("secret".utf8), lifetime: 3600)
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func query(_ path: String) -> (expires: String, sig: String) {
        let components = URLComponents(string: "http://x" + path)!
        let items = components.queryItems!
        return (items.first { $0.name == "expires" }!.value!, items.first { $0.name == "sig" }!.value!)
    }

    @Test func signedPathVerifies() throws {
        let path = signer.signedPath(fileName: "abc.png", now: now)
        #expect(path.hasPrefix("/v1/images/files/abc.png?expires=1800003600&sig="))
        let (expires, sig) = query(path)
        try signer.verify(fileName: "abc.png", expires: expires, signature: sig, now: now)
    }

    @Test func tamperingIsRefused() {
        let (expires, sig) = query(signer.signedPath(fileName: "abc.png", now: now))
        #expect(throws: URLSigner.Failure.invalidSignature) {
            try signer.verify(fileName: "abd.png", expires: expires, signature: sig, now: now)
        }
        #expect(throws: URLSigner.Failure.invalidSignature) {
            try signer.verify(fileName: "abc.png", expires: "1900000000", signature: sig, now: now)
        }
        #expect(throws: URLSigner.Failure.invalidSignature) {
            try signer.verify(fileName: "abc.png", expires: expires, signature: nil, now: now)
        }
    }

    @Test func expiryIsCheckedAfterTheSignature() {
        let (expires, sig) = query(signer.signedPath(fileName: "abc.png", now: now))
        #expect(throws: URLSigner.Failure.expired) {
            try signer.verify(fileName: "abc.png", expires: expires, signature: sig, now: now.addingTimeInterval(3601))
        }
    }
}
