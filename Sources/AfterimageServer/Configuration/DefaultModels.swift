import AfterimageCore

/// Capability entries for the OpenAI image models Afterimage ships with.
public enum DefaultModels {
    static let gptImageSizes = ["auto", "1024x1024", "1536x1024", "1024x1536"]
    static let gptImageQualities = ["auto", "low", "medium", "high"]

    /// gpt-image-2, gpt-image-1.5, gpt-image-1, gpt-image-1-mini, dall-e-3 and dall-e-2 on `provider`.
    public static func all(provider: String) -> [ModelCapability] {
        [
            ModelCapability(
                id: "gpt-image-2", provider: provider, sizes: ["auto"],
                sizeRule: SizeRule(multipleOf: 16, minEdge: 256, maxEdge: 3840, minPixels: 655_360, maxPixels: 8_294_400, maxAspectRatio: 3),
                maxN: 10, maxPromptLength: 32_000, qualities: gptImageQualities,
                acceptsResponseFormat: false, supportsEdits: true
            ),
            ModelCapability(
                id: "gpt-image-1.5", provider: provider, sizes: gptImageSizes, maxN: 10, maxPromptLength: 32_000,
                qualities: gptImageQualities, acceptsResponseFormat: false, supportsEdits: true
            ),
            ModelCapability(
                id: "gpt-image-1", provider: provider, sizes: gptImageSizes, maxN: 10, maxPromptLength: 32_000,
                qualities: gptImageQualities, acceptsResponseFormat: false, supportsEdits: true
            ),
            ModelCapability(
                id: "gpt-image-1-mini", provider: provider, sizes: gptImageSizes, maxN: 10, maxPromptLength: 32_000,
                qualities: gptImageQualities, acceptsResponseFormat: false, supportsEdits: true
            ),
            ModelCapability(
                id: "dall-e-3", provider: provider, sizes: ["1024x1024", "1792x1024", "1024x1792"], maxN: 1,
                maxPromptLength: 4_000, qualities: ["standard", "hd"], styles: ["vivid", "natural"],
                acceptsResponseFormat: true, supportsEdits: false, maxEditImages: 0
            ),
            ModelCapability(
                id: "dall-e-2", provider: provider, sizes: ["256x256", "512x512", "1024x1024"], maxN: 10,
                maxPromptLength: 1_000, qualities: ["standard"], acceptsResponseFormat: true,
                supportsEdits: true, maxEditImages: 1
            ),
        ]
    }
}
