import AfterimageCore
import AfterimageTesting
import Foundation
import Testing

@Suite struct EditTests {
    @Test func singleImageEditIsReencodedWithRealContentTypes() async throws {
        try await withFixture { f in
            var form = TestHTTP.Form()
            form.field("model", "gpt-image-1")
            form.field("prompt", "add a hat")
            form.field("input_fidelity", "high")
            form.field("fallbacks", "gpt-image-1-mini")
            form.file("image", filename: "photo.png", data: TestImages.png(width: 512, height: 512, seed: "in"))
            let reply = try await f.edit(form)
            #expect(reply.status == 200)
            #expect(reply.json["extra_fields"]?["request_type"]?.stringValue == "image_edit")
            #expect(ImageInfo.read(try #require(imageBytes(reply)))?.dimensions == ImageDimensions(width: 512, height: 512))
            let received = try #require(f.stub.received.last)
            #expect(received.path == "edits")
            #expect(received.files.map(\.name) == ["image"])
            #expect(received.files.first?.filename == "photo.png")
            #expect(received.files.first?.contentType == "image/png")
            #expect(received.fields["input_fidelity"] == .string("high"))
            #expect(received.fields["fallbacks"] == nil)
            #expect(received.fields["response_format"] == nil)
        }
    }

    @Test func threeImagesInOrderWithMixedFormats() async throws {
        try await withFixture { f in
            var form = TestHTTP.Form()
            form.field("model", "gpt-image-1")
            form.field("prompt", "combine these into a gift basket")
            form.file("image[]", filename: "a.png", data: TestImages.png(width: 256, height: 256, seed: "a"))
            form.file("image[]", filename: "b.jpg", data: TestImages.jpegHeader(width: 300, height: 200))
            form.file("image[]", filename: "c.webp", data: TestImages.webpHeader(width: 400, height: 300))
            let reply = try await f.edit(form)
            #expect(reply.status == 200)
            let received = try #require(f.stub.received.last)
            #expect(received.files.map(\.name) == ["image[]", "image[]", "image[]"])
            #expect(received.files.map(\.filename) == ["a.png", "b.jpg", "c.webp"])
            #expect(received.files.map(\.contentType) == ["image/png", "image/jpeg", "image/webp"])
        }
    }

    @Test func maskIsForwarded() async throws {
        try await withFixture { f in
            var form = TestHTTP.Form()
            form.field("model", "gpt-image-1")
            form.field("prompt", "replace the sky")
            form.file("image", filename: "in.png", data: TestImages.png(width: 256, height: 256, seed: "img"))
            form.file("mask", filename: "mask.png", data: TestImages.png(width: 256, height: 256, seed: "mask"))
            form.field("response_format", "url")
            let reply = try await f.edit(form)
            #expect(reply.status == 200)
            let received = try #require(f.stub.received.last)
            #expect(received.files.map(\.name) == ["image", "mask"])
            #expect(received.files.last?.contentType == "image/png")
            let url = try #require(reply.json["data"]?.arrayValue?.first?["url"]?.stringValue)
            #expect(try await f.get(url).status == 200)
        }
    }

    @Test func backgroundRemovalNeedsNoPrompt() async throws {
        try await withFixture { f in
            var form = TestHTTP.Form()
            form.field("model", "gpt-image-1")
            form.field("type", "background_removal")
            form.file("image", filename: "in.png", data: TestImages.png(width: 128, height: 128, seed: "bg"))
            let reply = try await f.edit(form)
            #expect(reply.status == 200)
        }
    }
}
