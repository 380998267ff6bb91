import AfterimageCore
import AfterimageMetering
import Foundation
import Testing

@Suite struct PricingTests {
    static let shipped: PriceTable = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Config/pricing.yaml").path
        return try! PricingFile.parse(try! String(contentsOfFile: path, encoding: .utf8))
    }()

    func price(_ model: String) throws -> ModelPrice { try #require(Self.shipped.price(provider: "openai", model: model)) }

    @Test func moneyIsExactAndDisplaysSixDecimals() {
        #expect(Money(usd: "0.04")?.nanos == 40_000_000)
        #expect(Money(usd: "1.25")?.nanos == 1_250_000_000)
        #expect(Money(usd: "12")?.nanos == 12_000_000_000)
        #expect(Money(usd: "0.0000000001") == nil && Money(usd: "1e-3") == nil && Money(usd: "-1") == nil && Money(usd: "") == nil)
        #expect(Money(nanos: 42_540_000).usdString == "0.042540")
        #expect(Money(nanos: 1_500).usdString == "0.000002", "half a micro-dollar rounds up")
        #expect(Money(nanos: 1_499).usdString == "0.000001")
        #expect(Money(nanos: 12_345_678_901).usdString == "12.345679")
        #expect(Money.zero.usdString == "0.000000")
    }

    /// Every shipped GPT image model at every size and quality (estimated output tokens), with a
    /// 20-token prompt, against figures worked out by hand: tokens × USD per 1M.
    @Test(arguments: [
        // model, size, quality, expected USD = (20 text tokens × text price + output tokens × image output price) / 1M,
        // worked out independently (decimal arithmetic) — e.g. gpt-image-1 1024x1024 low: 20×5 + 272×40 = 10980 µ$.
        ("gpt-image-1", "1024x1024", "low", "0.010980"),  // 20×5 + 272×40
        ("gpt-image-1", "1024x1024", "medium", "0.042340"),  // 20×5 + 1056×40
        ("gpt-image-1", "1024x1024", "high", "0.166500"),  // 20×5 + 4160×40
        ("gpt-image-1", "1024x1536", "low", "0.016420"),  // 20×5 + 408×40
        ("gpt-image-1", "1024x1536", "medium", "0.063460"),  // 20×5 + 1584×40
        ("gpt-image-1", "1024x1536", "high", "0.249700"),  // 20×5 + 6240×40
        ("gpt-image-1", "1536x1024", "low", "0.016100"),  // 20×5 + 400×40
        ("gpt-image-1", "1536x1024", "medium", "0.062820"),  // 20×5 + 1568×40
        ("gpt-image-1", "1536x1024", "high", "0.248420"),  // 20×5 + 6208×40
        ("gpt-image-1-mini", "1024x1024", "low", "0.002216"),  // 20×2 + 272×8
        ("gpt-image-1-mini", "1024x1024", "medium", "0.008488"),  // 20×2 + 1056×8
        ("gpt-image-1-mini", "1024x1024", "high", "0.033320"),  // 20×2 + 4160×8
        ("gpt-image-1-mini", "1024x1536", "low", "0.003304"),  // 20×2 + 408×8
        ("gpt-image-1-mini", "1024x1536", "medium", "0.012712"),  // 20×2 + 1584×8
        ("gpt-image-1-mini", "1024x1536", "high", "0.049960"),  // 20×2 + 6240×8
        ("gpt-image-1-mini", "1536x1024", "low", "0.003240"),  // 20×2 + 400×8
        ("gpt-image-1-mini", "1536x1024", "medium", "0.012584"),  // 20×2 + 1568×8
        ("gpt-image-1-mini", "1536x1024", "high", "0.049704"),  // 20×2 + 6208×8
        ("gpt-image-1.5", "1024x1024", "low", "0.008804"),  // 20×5 + 272×32
        ("gpt-image-1.5", "1024x1024", "medium", "0.033892"),  // 20×5 + 1056×32
        ("gpt-image-1.5", "1024x1024", "high", "0.133220"),  // 20×5 + 4160×32
        ("gpt-image-1.5", "1024x1536", "low", "0.013156"),  // 20×5 + 408×32
        ("gpt-image-1.5", "1024x1536", "medium", "0.050788"),  // 20×5 + 1584×32
        ("gpt-image-1.5", "1024x1536", "high", "0.199780"),  // 20×5 + 6240×32
        ("gpt-image-1.5", "1536x1024", "low", "0.012900"),  // 20×5 + 400×32
        ("gpt-image-1.5", "1536x1024", "medium", "0.050276"),  // 20×5 + 1568×32
        ("gpt-image-1.5", "1536x1024", "high", "0.198756"),  // 20×5 + 6208×32
        ("gpt-image-2", "1024x1024", "low", "0.008260"),  // 20×5 + 272×30
        ("gpt-image-2", "1024x1024", "medium", "0.031780"),  // 20×5 + 1056×30
        ("gpt-image-2", "1024x1024", "high", "0.124900"),  // 20×5 + 4160×30
        ("gpt-image-2", "1024x1536", "low", "0.012340"),  // 20×5 + 408×30
        ("gpt-image-2", "1024x1536", "medium", "0.047620"),  // 20×5 + 1584×30
        ("gpt-image-2", "1024x1536", "high", "0.187300"),  // 20×5 + 6240×30
        ("gpt-image-2", "1536x1024", "low", "0.012100"),  // 20×5 + 400×30
        ("gpt-image-2", "1536x1024", "medium", "0.047140"),  // 20×5 + 1568×30
        ("gpt-image-2", "1536x1024", "high", "0.186340"),  // 20×5 + 6208×30
    ])
    func tokenModelCosts(model: String, size: String, quality: String, expected: String) throws {
        let usage = TokenUsage(textInput: 20, imageOutput: UsageEstimator.imageOutputTokens(size: size, quality: quality))
        #expect(try price(model).cost(of: usage)?.usdString == expected)
    }

    @Test(arguments: [
        ("dall-e-3", "1024x1024", "standard", "0.040000"), ("dall-e-3", "1792x1024", "standard", "0.080000"),
        ("dall-e-3", "1024x1792", "standard", "0.080000"), ("dall-e-3", "1024x1024", "hd", "0.080000"),
        ("dall-e-3", "1792x1024", "hd", "0.120000"), ("dall-e-3", "1024x1792", "hd", "0.120000"),
        ("dall-e-2", "256x256", "standard", "0.016000"), ("dall-e-2", "512x512", "standard", "0.018000"),
        ("dall-e-2", "1024x1024", "standard", "0.020000"),
    ])
    func perImageCosts(model: String, size: String, quality: String, expected: String) throws {
        #expect(try price(model).billsPerImage)
        #expect(try price(model).cost(images: 1, size: size, quality: quality)?.usdString == expected)
        // Three images cost three times as much, exactly.
        let one = try #require(try price(model).cost(images: 1, size: size, quality: quality))
        #expect(try price(model).cost(images: 3, size: size, quality: quality) == one * 3)
    }

    @Test func cachedAndTextOutputTokensUseTheirOwnPrices() throws {
        // gpt-image-1.5: 1000 text input of which 400 cached, 500 image input of which 100 cached,
        // 1056 image output, 50 text output:
        // 600×5 + 400×1.25 + 400×8 + 100×2 + 1056×32 + 50×10 = 3000 + 500 + 3200 + 200 + 33792 + 500 = 41192 µ$
        let usage = TokenUsage(textInput: 1000, cachedTextInput: 400, imageInput: 500, cachedImageInput: 100, imageOutput: 1056, textOutput: 50)
        #expect(try price("gpt-image-1.5").cost(of: usage)?.usdString == "0.041192")
        // gpt-image-1 has no text output price: a usage with text output is unpriced, never zero.
        #expect(try price("gpt-image-1").cost(of: TokenUsage(textInput: 1, textOutput: 1)) == nil)
        // ...and what is charged for it is the model's dearest token price ($40/1M image output):
        // 1 × 5000 + 1 × 40000 nanos, flagged as an estimate.
        let charged = try #require(try price("gpt-image-1").charge(of: TokenUsage(textInput: 1, textOutput: 1)))
        #expect(charged.cost.nanos == 45_000 && charged.estimated)
        // gpt-image-2 has no cached prices: cached tokens are charged at the full price.
        #expect(try price("gpt-image-2").cost(of: TokenUsage(textInput: 10, cachedTextInput: 10))?.nanos == 10 * 5000)
        // Sub-micro-dollar amounts stay exact in the sum: 3 cached tokens × $1.25/1M = 3.75 µ$.
        #expect(try price("gpt-image-1").cost(of: TokenUsage(textInput: 3, cachedTextInput: 3))?.nanos == 3750)
    }

    @Test func upstreamUsageIsRead() throws {
        let usage = try #require(TokenUsage(upstream: [
            "input_tokens": 350, "output_tokens": 1100, "total_tokens": 1450,
            "input_tokens_details": ["text_tokens": 27, "image_tokens": 323, "cached_tokens": 5],
            "output_tokens_details": ["image_tokens": 1056, "text_tokens": 44],
        ]))
        #expect(usage == TokenUsage(textInput: 27, cachedTextInput: 5, imageInput: 323, imageOutput: 1056, textOutput: 44, source: .upstream))
        let plain = try #require(TokenUsage(upstream: ["input_tokens": 12, "output_tokens": 272]))
        #expect(plain.textInput == 12 && plain.imageOutput == 272 && plain.source == .upstream)
        #expect(TokenUsage(upstream: nil) == nil && TokenUsage(upstream: [:]) == nil)
    }

    @Test func estimates() {
        #expect(UsageEstimator.imageOutputTokens(size: "1024x1024", quality: "auto") == 1056, "auto quality counts as medium")
        #expect(UsageEstimator.imageOutputTokens(size: "auto", quality: "high") == 4160)
        #expect(UsageEstimator.imageOutputTokens(size: "2048x2048", quality: "low") == 272 * 4, "other sizes scale by area")
        // 1024×1024 → 512×512: 1 tile → 65 + 129 = 194; high adds 4096 for a square.
        #expect(UsageEstimator.imageInputTokens(width: 1024, height: 1024, fidelity: "low") == 194)
        #expect(UsageEstimator.imageInputTokens(width: 1024, height: 1024, fidelity: "high") == 194 + 4096)
        // 4096×2048 → fits 2048×1024 → shortest side 512: 1024×512: 2 tiles → 65 + 258 = 323; high +6144.
        #expect(UsageEstimator.imageInputTokens(width: 4096, height: 2048, fidelity: nil) == 323)
        #expect(UsageEstimator.imageInputTokens(width: 4096, height: 2048, fidelity: "high") == 323 + 6144)
        // 1536×1024 → 768×512: 2 tiles.
        #expect(UsageEstimator.imageInputTokens(width: 1536, height: 1024, fidelity: "low") == 323)
        #expect(UsageEstimator.textTokens("a red fox in the snow") == 6)
        #expect(UsageEstimator.textTokens("") == 0)
    }

    @Test func invalidPricingNamesTheKey() {
        for (yaml, key) in [
            ("models:\n  m:\n    image_output: cheap\n", "models.m.image_output"),
            ("models:\n  m:\n    image_ouput: 1\n", "models.m.image_ouput"),
            ("models:\n  m:\n    text_input: 0.0001\n", "models.m.text_input"),
            ("models:\n  m:\n    per_image:\n      hd: {big: 0.1}\n", "models.m.per_image.hd.big"),
            ("prices: {}\n", "prices"),
        ] {
            #expect { _ = try PricingFile.parse(yaml) } throws: { ($0 as? PricingError)?.key == key }
        }
    }

    @Test func pricesReloadWhenTheFileChanges() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pricing-\(UUID().uuidString).yaml")
        try "models:\n  m: {image_output: 40}\n".write(to: file, atomically: true, encoding: .utf8)
        let source = try PricingSource(path: file.path)
        let first = source.current()
        #expect(first.models["m"]?.imageOutput?.nanos == 40_000)
        try "models:\n  m: {image_output: 30}\n".write(to: file, atomically: true, encoding: .utf8)
        source.reloadIfChanged()
        let later = source.current()
        #expect(later.models["m"]?.imageOutput?.nanos == 30_000)
        #expect(later.version != first.version)
        try "models: [oops\n".write(to: file, atomically: true, encoding: .utf8)
        source.reloadIfChanged()
        #expect(source.current().version == later.version, "a broken file keeps the last good prices")
    }
}
