import AfterimageCore
import AfterimageTesting
import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

/// One test per row of the error table (400, 401, 404, 413, 429, 503), through real HTTP.
@Suite struct ErrorTableTests {
    func expectError(_ reply: TestHTTP.Reply, _ status: Int, _ code: String, param: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(reply.status == status, "\(String(decoding: reply.body, as: UTF8.self))", sourceLocation: sourceLocation)
        #expect(reply.errorCode == code, sourceLocation: sourceLocation)
        if let param { #expect(reply.errorParam == param, sourceLocation: sourceLocation) }
        let message = reply.json["error"]?["message"]?.stringValue ?? ""
        #expect(!message.isEmpty, sourceLocation: sourceLocation)
        #expect(reply.json["error"]?["type"]?.stringValue != nil, sourceLocation: sourceLocation)
    }

    @Test func invalidPayloadOnGenerations() async throws {
        try await withFixture { f in
            expectError(try await f.generate(["prompt": "x"]), 400, "invalid_payload", param: "model")
            expectError(try await f.generate(["model": "gpt-image-1"]), 400, "invalid_payload", param: "prompt")
            expectError(try await f.generate(["model": "gpt-image-1", "prompt": "x", "size": "640x480"]), 400, "invalid_payload", param: "size")
            expectError(try await f.generate(["model": "gpt-image-2", "prompt": "x", "size": "1000x1000"]), 400, "invalid_payload", param: "size")
            expectError(try await f.generate(["model": "gpt-image-1", "prompt": "x", "n": 0]), 400, "invalid_payload", param: "n")
            expectError(try await f.generate(["model": "gpt-image-1", "prompt": "x", "n": 11]), 400, "invalid_payload", param: "n")
            expectError(try await f.generate(["model": "dall-e-3", "prompt": "x", "n": 2]), 400, "invalid_payload", param: "n")
            expectError(try await f.generate(["model": "dall-e-2", "prompt": .string(String(repeating: "a", count: 1001))]), 400, "invalid_payload", param: "prompt")
            expectError(try await f.generate(["model": "gpt-image-1", "prompt": "x", "quality": "ultra"]), 400, "invalid_payload", param: "quality")
            expectError(try await f.generate(["model": "gpt-image-1", "prompt": "x", "response_format": "jpeg"]), 400, "invalid_payload", param: "response_format")
            let malformed = try await TestHTTP.request(
                .POST, "\(f.base)/v1/images/generations",
                headers: [("Authorization", "Bearer \(f.secret)"), ("Content-Type", "application/json")],
                body: .bytes(ByteBuffer(string: "{\"model\": \"gpt-image-1\", \"prompt\": "))
            )
            expectError(malformed, 400, "invalid_payload")
            #expect(malformed.json["extra_fields"]?["request_type"]?.stringValue == "image_generation")
            #expect(f.stub.servedCount == 0, "nothing invalid reaches the upstream")
        }
    }

    @Test func invalidPayloadOnEdits() async throws {
        try await withFixture { f in
            let png = TestImages.png(width: 256, height: 256, seed: "img")

            var noImage = TestHTTP.Form()
            noImage.field("model", "gpt-image-1")
            noImage.field("prompt", "x")
            expectError(try await f.edit(noImage), 400, "invalid_payload", param: "image")

            var noPrompt = TestHTTP.Form()
            noPrompt.field("model", "gpt-image-1")
            noPrompt.file("image", filename: "a.png", data: png)
            expectError(try await f.edit(noPrompt), 400, "invalid_payload", param: "prompt")

            var noModel = TestHTTP.Form()
            noModel.field("prompt", "x")
            noModel.file("image", filename: "a.png", data: png)
            expectError(try await f.edit(noModel), 400, "invalid_payload", param: "model")

            var textAsPNG = TestHTTP.Form()
            textAsPNG.field("model", "gpt-image-1")
            textAsPNG.field("prompt", "x")
            textAsPNG.file("image", filename: "notes.png", data: Data("these are my notes, not an image".utf8), contentType: "image/png")
            let text = try await f.edit(textAsPNG)
            expectError(text, 400, "invalid_payload", param: "image")
            #expect(text.json["error"]?["message"]?.stringValue?.contains("notes.png") == true)

            var maskSize = TestHTTP.Form()
            maskSize.field("model", "gpt-image-1")
            maskSize.field("prompt", "x")
            maskSize.file("image", filename: "a.png", data: png)
            maskSize.file("mask", filename: "m.png", data: TestImages.png(width: 128, height: 256))
            let mask = try await f.edit(maskSize)
            expectError(mask, 400, "invalid_payload", param: "mask")
            #expect(mask.json["error"]?["message"]?.stringValue?.contains("128x256") == true)

            var maskJPEG = TestHTTP.Form()
            maskJPEG.field("model", "gpt-image-1")
            maskJPEG.field("prompt", "x")
            maskJPEG.file("image", filename: "a.png", data: png)
            maskJPEG.file("mask", filename: "m.jpg", data: TestImages.jpegHeader(width: 256, height: 256))
            expectError(try await f.edit(maskJPEG), 400, "invalid_payload", param: "mask")

            var tooMany = TestHTTP.Form()
            tooMany.field("model", "gpt-image-1")
            tooMany.field("prompt", "x")
            for i in 0..<17 { tooMany.file("image[]", filename: "\(i).png", data: png) }
            expectError(try await f.edit(tooMany), 400, "invalid_payload", param: "image")

            var noEdits = TestHTTP.Form()
            noEdits.field("model", "dall-e-3")
            noEdits.field("prompt", "x")
            noEdits.file("image", filename: "a.png", data: png)
            expectError(try await f.edit(noEdits), 400, "invalid_payload", param: "model")

            let broken = try await TestHTTP.request(
                .POST, "\(f.base)/v1/images/edits",
                headers: [("Authorization", "Bearer \(f.secret)"), ("Content-Type", "multipart/form-data; boundary=zzz")],
                body: .bytes(ByteBuffer(string: "--zzz\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\ngpt-image-1\r\n--zzz\r\nBROKEN"))
            )
            expectError(broken, 400, "invalid_payload")
            #expect(broken.json["error"]?["message"]?.stringValue?.contains("Malformed multipart") == true)
            let notMultipart = try await TestHTTP.request(
                .POST, "\(f.base)/v1/images/edits",
                headers: [("Authorization", "Bearer \(f.secret)"), ("Content-Type", "application/json")],
                body: .bytes(ByteBuffer(string: "{}"))
            )
            expectError(notMultipart, 400, "invalid_payload")
            #expect(f.stub.servedCount == 0)
        }
    }

    @Test func unauthorized() async throws {
        try await withFixture { f in
            let body: JSONValue = .object(["model": "gpt-image-1", "prompt": "x"])
            expectError(try await TestHTTP.postJSON("\(f.base)/v1/images/generations", body, key: nil), 401, "unauthorized")
            expectError(try await TestHTTP.postJSON("\(f.base)/v1/images/generations", body, key: "sk-af-unknown"), 401, "unauthorized")
            let (_, expired) = try await f.gateway.createKey(name: "old", expiresAt: Date().addingTimeInterval(-60))
            expectError(try await TestHTTP.postJSON("\(f.base)/v1/images/generations", body, key: expired), 401, "unauthorized")
            let unknown = try await TestHTTP.postJSON("\(f.base)/v1/images/generations", body, key: "sk-af-unknown")
            #expect(!String(decoding: unknown.body, as: UTF8.self).contains("sk-af-unknown"), "a presented secret is never echoed whole")
            expectError(try await f.get("/v1/models"), 401, "unauthorized")
            #expect(f.stub.servedCount == 0)
        }
    }

    @Test func revokedKeyStopsWorkingMidRun() async throws {
        try await withFixture { f in
            #expect(try await f.generate(["model": "gpt-image-1", "prompt": "before"]).status == 200)
            let revoked = try await TestHTTP.request(
                .DELETE, "\(f.base)/admin/keys/\(f.key.id)", headers: [("Authorization", "Bearer \(TestGateway.adminKey)")]
            )
            #expect(revoked.status == 200)
            #expect(revoked.json["status"]?.stringValue == "revoked")
            expectError(try await f.generate(["model": "gpt-image-1", "prompt": "after"]), 401, "unauthorized")
            #expect(f.stub.servedCount == 1)
        }
    }

    @Test func modelNotFound() async throws {
        try await withFixture { f in
            expectError(try await f.generate(["model": "gpt-image-9", "prompt": "x"]), 404, "model_not_found", param: "model")
            expectError(try await f.generate(["model": "nope/gpt-image-1", "prompt": "x"]), 404, "model_not_found", param: "model")
            expectError(
                try await f.generate(["model": "gpt-image-1", "prompt": "x", "fallbacks": .array([.string("imaginary")])]),
                404, "model_not_found", param: "fallbacks"
            )
            let (_, limited) = try await f.gateway.createKey(name: "mini only", models: ["gpt-image-1-mini"])
            expectError(try await f.generate(["model": "gpt-image-1", "prompt": "x"], key: limited), 404, "model_not_found")
            #expect(try await f.generate(["model": "gpt-image-1-mini", "prompt": "x"], key: limited).status == 200)
            let models = try await f.get("/v1/models", headers: [("Authorization", "Bearer \(limited)")])
            #expect(models.json["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["gpt-image-1-mini"])
        }
    }

    @Test func payloadTooLargeByDeclaredLength() async throws {
        try await withFixture(configure: { $0.server.maxJSONBytes = 64 * 1024 }) { f in
            let big = String(repeating: "a", count: 100 * 1024)
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": .string(big)])
            expectError(reply, 413, "payload_too_large")
            #expect(f.stub.servedCount == 0)
        }
    }

    @Test func payloadTooLargeWhileStreamingChunks() async throws {
        try await withFixture(configure: { $0.server.maxBodyBytes = 256 * 1024 }) { f in
            // No Content-Length: the body arrives in 64 KiB chunks, 4 MiB in all.
            let chunk = ByteBuffer(repeating: UInt8(ascii: "a"), count: 64 * 1024)
            let chunks = AsyncStream<ByteBuffer> { continuation in
                for _ in 0..<64 { continuation.yield(chunk) }
                continuation.finish()
            }
            var form = TestHTTP.Form()
            form.field("model", "gpt-image-1")
            let reply = try await TestHTTP.request(
                .POST, "\(f.base)/v1/images/edits",
                headers: [("Authorization", "Bearer \(f.secret)"), ("Content-Type", "multipart/form-data; boundary=\(form.boundary)")],
                body: .stream(chunks, length: .unknown)
            )
            expectError(reply, 413, "payload_too_large")
            #expect(f.stub.servedCount == 0)
        }
    }

    @Test func rateLimitedWhenTheUpstreamKeepsAnswering429() async throws {
        try await withFixture(configure: { $0.upstream.maxAttempts = 2 }) { f in
            f.stub.inject([.status(429, retryAfter: "0"), .status(429, retryAfter: "0")])
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": "x"])
            expectError(reply, 429, "rate_limited")
            #expect(reply.json["error"]?["message"]?.stringValue?.contains("rate-limited") == true)
            #expect(reply.json["extra_fields"]?["model_requested"]?.stringValue == "gpt-image-1")
            #expect(f.stub.servedCount == 2)
        }
    }

    @Test func upstreamUnavailableAfterServerErrorsAndDrops() async throws {
        try await withFixture(configure: { $0.upstream.maxAttempts = 3 }) { f in
            f.stub.inject([.status(500), .drop, .status(503)])
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": "x"])
            expectError(reply, 503, "upstream_unavailable")
            #expect(f.stub.servedCount == 3)
        }
    }

    @Test func upstreamUnavailableWhenNothingListens() async throws {
        try await withFixture(configure: {
            $0.providers["openai"]?.baseURL = "http://127.0.0.1:9/v1"
            $0.upstream.maxAttempts = 2
            // AsyncHTTPClient keeps retrying a refused connect until this timeout.
            $0.upstream.connectTimeoutMs = 300
        }) { f in
            expectError(try await f.generate(["model": "gpt-image-1", "prompt": "x"]), 503, "upstream_unavailable")
        }
    }

    @Test func upstreamTimeoutIsUnavailable() async throws {
        try await withFixture(configure: {
            $0.upstream.requestTimeoutMs = 300
            $0.upstream.maxAttempts = 1
        }) { f in
            f.stub.inject([.delay(.seconds(2))])
            expectError(try await f.generate(["model": "gpt-image-1", "prompt": "x"]), 503, "upstream_unavailable")
        }
    }
}
