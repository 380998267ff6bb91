import AfterimageCache
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
