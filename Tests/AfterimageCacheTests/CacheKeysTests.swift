@testable import AfterimageCache
import AfterimageCore
import AfterimageEmbedding
import AfterimageIndex
import Foundation
import Testing

@Suite struct CacheKeysTests {
    let model = ModelCapability(id: "gpt-image-1", provider: "openai", sizes: ["auto", "1024x1024"], maxN: 10, maxPromptLength: 100, qualities: ["auto", "low"], acceptsResponseFormat: false, supportsEdits: true)

    func request(_ fields: [String: JSONValue], format: ResponseFormat = .b64JSON) -> ImageRequest {
        ImageRequest(endpoint: .generations, model: "gpt-image-1", prompt: "x", fields: fields, responseFormat: format)
    }

    @Test func normalisedPromptFoldsCaseSpaceAndSurroundingPunctuation() {
        #expect(CacheKeys.normalizedPrompt("  A Red   FOX!!  ") == "a red fox")
        #expect(CacheKeys.normalizedPrompt("\"ﬁne\" art") == "fine\" art")
        #expect(CacheKeys.directKey("A red fox.") == CacheKeys.directKey("a red fox"))
    }

    @Test func partitionKeyCanonicalisesAndFillsDefaults() {
        let base = CacheKeys.partitionKey(request(["prompt": "x"]), model: model)
        #expect(CacheKeys.partitionKey(request(["prompt": "y", "n": "1", "size": "auto", "quality": "auto"]), model: model) == base)
        #expect(CacheKeys.partitionKey(request(["prompt": "x", "user": "u", "stream": false], format: .url), model: model) == base)
        #expect(CacheKeys.partitionKey(request(["prompt": "x", "size": "1024x1024"]), model: model) != base)
        #expect(CacheKeys.partitionKey(request(["prompt": "x", "seed": 7]), model: model) != base)
        #expect(CacheKeys.partitionKey(request(["prompt": "x", "seed": "7"]), model: model) == CacheKeys.partitionKey(request(["prompt": "x", "seed": 7]), model: model))
        #expect(CacheKeys.partitionKey(request(["prompt": "x", "vendor_knob": "a"]), model: model) != base)
    }

    /// Partition keys are stored: they must not change when the JSON writer behind them does.
    /// These were computed with Foundation's `JSONEncoder` (sorted keys, unescaped slashes).
    @Test func partitionKeysAreStableAcrossReleases() {
        #expect(CacheKeys.partitionKey(request(["prompt": "x"]), model: model) == "50a8f5d4b80fc6dd2006edcb6d8c5e4465408ab2f86a95971e920518abd6fe50")
        let fields: [String: JSONValue] = [
            "prompt": "x", "size": "1024x1024", "seed": "7", "style": " vivid/bold ", "weight": 0.25, "flags": ["b": true, "a": [1, "2", 3.5]],
            "note": "tab\there \"quoted\" é 🦊",
        ]
        #expect(CacheKeys.partitionKey(request(fields), model: model) == "2bab7d9bb7a894c4dfa7cce1db35965e9688d2337422af6a57a85bb70565aed1")
    }

    /// The ASCII fast path of prompt normalisation gives exactly what the Foundation path gives.
    @Test func asciiNormalisationMatchesTheUnicodePath() {
        var random = SplitMix64(seed: 5)
        var samples = ["", "   ", "A Red FOX!!", "\t\r\n a\u{0B}b\u{0C}c \u{1C}d\u{1F} ", "***", "(a)", "a\u{7F}", "\u{00}x\u{01}", "Hello, World.", "`~!@#$%^&*()_+-={}|[]\\:\";'<>?,./"]
        for _ in 0..<3_000 {
            let count = Int(random.next() % 24)
            samples.append(String(decoding: (0..<count).map { _ in UInt8(random.next() % 128) }, as: UTF8.self))
        }
        for sample in samples {
            #expect(CacheKeys.asciiNormalized(sample) == CacheKeys.unicodeNormalized(sample), "\(sample.debugDescription)")
        }
        #expect(CacheKeys.asciiNormalized("café") == nil)
        #expect(CacheKeys.normalizedPrompt("  CAFÉ  au lait! ") == CacheKeys.unicodeNormalized("  CAFÉ  au lait! "))
    }

    @Test func singleFlightSharesOneRun() async throws {
        let flight = SingleFlight<String, Int>()
        let counter = Counter()
        let results = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for _ in 0..<10 {
                group.addTask {
                    let (value, leader) = try await flight.run("k") {
                        await counter.increment()
                        try await Task.sleep(for: .milliseconds(200))
                        return 42
                    }
                    return (value, leader)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0.0 == 42 })
        #expect(results.filter(\.1).count == 1)
        #expect(await counter.value == 1)
    }
}

actor Counter {
    var value = 0
    func increment() { value += 1 }
}
