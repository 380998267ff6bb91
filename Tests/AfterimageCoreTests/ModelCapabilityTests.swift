import AfterimageCore
import Testing

@Suite struct ModelCapabilityTests {
    let rule = ModelCapability(
        id: "gpt-image-2", provider: "openai", sizes: ["auto"],
        sizeRule: SizeRule(multipleOf: 16, minEdge: 256, maxEdge: 3840, minPixels: 655_360, maxPixels: 8_294_400, maxAspectRatio: 3),
        maxN: 10, maxPromptLength: 32_000, qualities: [], acceptsResponseFormat: false, supportsEdits: true
    )

    @Test func sizeRuleAcceptsMultiplesOf16WithinBounds() {
        #expect(rule.sizeProblem("auto") == nil)
        #expect(rule.sizeProblem("1024x1024") == nil)
        #expect(rule.sizeProblem("2048x1152") == nil)
        #expect(rule.sizeProblem("3840x2160") == nil)
    }

    @Test func sizeRuleRejectsOthers() {
        #expect(rule.sizeProblem("1000x1000")?.contains("multiples of 16") == true)
        #expect(rule.sizeProblem("512x512")?.contains("total pixels") == true)
        #expect(rule.sizeProblem("3840x1008")?.contains("aspect ratio") == true)
        #expect(rule.sizeProblem("4096x2048")?.contains("between 256 and 3840") == true)
        #expect(rule.sizeProblem("big") != nil)
    }

    @Test func listedSizes() {
        let dalle = ModelCapability(
            id: "dall-e-3", provider: "openai", sizes: ["1024x1024", "1792x1024"], maxN: 1, maxPromptLength: 4000,
            qualities: ["standard", "hd"], acceptsResponseFormat: true, supportsEdits: false
        )
        #expect(dalle.sizeProblem("1024x1024") == nil)
        #expect(dalle.sizeProblem("512x512")?.contains("allowed: 1024x1024, 1792x1024") == true)
    }
}
