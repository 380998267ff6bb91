import AfterimageCore
import AfterimageTesting
import Foundation
import Testing

@Suite struct ImageInfoTests {
    @Test func readsPNGDimensions() {
        let info = ImageInfo.read(TestImages.png(width: 321, height: 123, seed: "x"))
        #expect(info == ImageInfo(format: .png, dimensions: .init(width: 321, height: 123)))
    }

    @Test func readsJPEGDimensions() {
        let info = ImageInfo.read(TestImages.jpegHeader(width: 800, height: 600))
        #expect(info == ImageInfo(format: .jpeg, dimensions: .init(width: 800, height: 600)))
    }

    @Test func readsWebPDimensions() {
        let info = ImageInfo.read(TestImages.webpHeader(width: 1536, height: 1024))
        #expect(info == ImageInfo(format: .webp, dimensions: .init(width: 1536, height: 1024)))
    }

    @Test func rejectsTextAndTruncatedHeaders() {
        #expect(ImageInfo.read(Data("hello, I am a text file".utf8)) == nil)
        #expect(ImageInfo.read(TestImages.png(width: 4, height: 4).prefix(16)) == nil)
        #expect(ImageInfo.read(Data()) == nil)
    }

    @Test func pngIsDeterministicPerSeed() {
        #expect(TestImages.png(width: 64, height: 64, seed: "a") == TestImages.png(width: 64, height: 64, seed: "a"))
        #expect(TestImages.png(width: 64, height: 64, seed: "a") != TestImages.png(width: 64, height: 64, seed: "b"))
    }
}
