import AfterimageCore
import AfterimageTesting
import Foundation
import Testing

@Suite struct GenerationTests {
    @Test func b64AnswerCarriesImageUsageAndExtraFields() async throws {
        try await withFixture { f in
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": "a red fox in snow", "size": "1024x1536", "quality": "low"])
            #expect(reply.status == 200)
            let png = try #require(imageBytes(reply))
            #expect(ImageInfo.read(png)?.dimensions == ImageDimensions(width: 1024, height: 1536))
            #expect(png == TestImages.png(width: 1024, height: 1536, seed: "gpt-image-1|a red fox in snow|0"))
            let json = reply.json
            #expect(json["id"]?.stringValue?.hasPrefix("req_") == true)
            #expect(json["model"]?.stringValue == "gpt-image-1")
            #expect(json["usage"]?["output_tokens"]?.integerValue == 1056)
            #expect(json["size"]?.stringValue == "1024x1536")
            #expect(json["created"]?.integerValue != nil)
            let extra = try #require(json["extra_fields"])
            #expect(extra["request_type"]?.stringValue == "image_generation")
            #expect(extra["provider"]?.stringValue == "openai")
            #expect(extra["model_requested"]?.stringValue == "gpt-image-1")
            #expect(extra["model_deployment"]?.stringValue == "gpt-image-1")
            #expect(extra["latency"]?.integerValue != nil)
            #expect(extra["cache_debug"]?["cache_hit"] == .bool(false))
            #expect(reply.headers.first(name: "x-request-id") == json["id"]?.stringValue)
        }
    }

    @Test func forwardsWhatTheUpstreamExpectsAndNothingElse() async throws {
        try await withFixture { f in
            let reply = try await f.generate([
                "model": "gpt-image-1", "prompt": "a cat", "response_format": "b64_json",
                "fallbacks": .array([.string("gpt-image-1-mini")]), "my_vendor_knob": .integer(7), "n": .string("2"),
            ])
            #expect(reply.status == 200)
            #expect(reply.json["data"]?.arrayValue?.count == 2)
            let received = try #require(f.stub.received.last)
            #expect(received.fields["response_format"] == nil, "GPT image models reject response_format")
            #expect(received.fields["fallbacks"] == nil, "proxy-only field")
            #expect(received.fields["my_vendor_knob"] == .integer(7), "unknown fields pass through")
            #expect(received.fields["model"] == .string("gpt-image-1"))
            #expect(received.authorization == "Bearer sk-upstream-secret")
            #expect(!received.headerNames.contains("x-api-key"))
        }
    }

    @Test func virtualKeyNeverGoesUpstream() async throws {
        try await withFixture { f in
            let reply = try await TestHTTP.postJSON(
                "\(f.base)/v1/images/generations", .object(["model": "gpt-image-1", "prompt": "x"]), key: nil,
                headers: [("x-api-key", f.secret)]
            )
            #expect(reply.status == 200)
            let received = try #require(f.stub.received.last)
            #expect(received.authorization == "Bearer sk-upstream-secret")
            #expect(!received.headerNames.contains("x-api-key"))
        }
    }

    @Test func urlAnswerIsServedFromTheProxyWithCachingHeaders() async throws {
        try await withFixture { f in
            let reply = try await f.generate(["model": "gpt-image-1", "prompt": "a lighthouse", "response_format": "url"])
            #expect(reply.status == 200)
            let url = try #require(reply.json["data"]?.arrayValue?.first?["url"]?.stringValue)
            #expect(url.hasPrefix("\(f.base)/v1/images/files/"))
            #expect(url.contains("expires=") && url.contains("sig="))
            let file = try await f.get(url)
            #expect(file.status == 200)
            #expect(file.headers.first(name: "content-type") == "image/png")
            let etag = try #require(file.headers.first(name: "etag"))
            #expect(file.headers.first(name: "cache-control")?.contains("max-age") == true)
            #expect(file.body == TestImages.png(width: 1024, height: 1024, seed: "gpt-image-1|a lighthouse|0"))
            let revalidated = try await f.get(url, headers: [("If-None-Match", etag)])
            #expect(revalidated.status == 304)
        }
    }

    @Test func upstreamURLsAreDownloadedAtOnceAndOutliveTheirExpiry() async throws {
        // With prefer_b64_json off, dall-e-2 is asked for a URL, so the stub answers with its own expiring URL.
        try await withFixture(urlLifetime: .seconds(3600), configure: { $0.upstream.preferB64JSON = false }) { f in
            let reply = try await f.generate(["model": "dall-e-2", "prompt": "a harbour at dawn", "size": "256x256", "response_format": "url"])
            #expect(reply.status == 200)
            #expect(f.stub.received.last?.fields["response_format"] == .string("url"))
            #expect(f.stub.fileDownloads == 1)
            f.stub.expireAllURLs()
            let url = try #require(reply.json["data"]?.arrayValue?.first?["url"]?.stringValue)
            let file = try await f.get(url)
            #expect(file.status == 200)
            #expect(ImageInfo.read(file.body)?.dimensions == ImageDimensions(width: 256, height: 256))
        }
    }

    @Test func dallEDefaultsToURLAndKeepsRevisedPrompt() async throws {
        try await withFixture { f in
            let reply = try await f.generate(["model": "dall-e-3", "prompt": "a tiny robot", "size": "1024x1024", "quality": "hd"])
            #expect(reply.status == 200)
            let item = try #require(reply.json["data"]?.arrayValue?.first)
            #expect(item["url"]?.stringValue != nil)
            #expect(item["revised_prompt"]?.stringValue == "A detailed rendering of: a tiny robot")
        }
    }

    @Test func b64ForAModelAnsweringWithURLs() async throws {
        try await withFixture { f in
            let reply = try await f.generate(["model": "dall-e-2", "prompt": "a kite", "size": "512x512", "response_format": "b64_json"])
            #expect(reply.status == 200)
            #expect(ImageInfo.read(try #require(imageBytes(reply)))?.dimensions == ImageDimensions(width: 512, height: 512))
        }
    }

    @Test func qualifiedModelIDPicksTheProvider() async throws {
        try await withFixture { f in
            let reply = try await f.generate(["model": "openai/gpt-image-1-mini", "prompt": "a boat"])
            #expect(reply.status == 200)
            #expect(f.stub.received.last?.fields["model"] == .string("gpt-image-1-mini"))
        }
    }
}
