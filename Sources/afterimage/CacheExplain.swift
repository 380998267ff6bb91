import AfterimageCache
import AfterimageEmbedding
import ArgumentParser
import Foundation

/// `afterimage cache explain`: how the guard reads two prompts and what it decides.
struct CacheExplain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain", abstract: "Show how the guard reads two prompts (content words, unknown tokens) and its verdict.",
        discussion: "Example: afterimage cache explain 'a cat on a sofa' 'a feline on a couch'"
    )

    @OptionGroup var options: ConfigOptions
    @Argument(help: "The cached prompt.") var cached: String
    @Argument(help: "The incoming prompt.") var incoming: String

    func run() async throws {
        guard cached.utf8.count <= 32_000, incoming.utf8.count <= 32_000 else { throw ValidationError("prompts are limited to 32,000 bytes") }
        let configuration = try options.load()
        let embedder = try EmbedderFactory.make(configuration.embedder)
        let matcher = CacheMatcher(vocabulary: try GuardVocabulary.load(settings: configuration.cache), embedder: embedder, wordSimilarity: configuration.cache.wordSimilarity)
        for (name, prompt) in [("cached", cached), ("incoming", incoming)] {
            let analysis = matcher.analyzer.analyze(prompt)
            print("\(name): words \(analysis.words.joined(separator: " "))")
            print("  stems \(analysis.stems.joined(separator: " "))")
            if !analysis.unknown.isEmpty { print("  unknown tokens \(analysis.unknown.joined(separator: " "))") }
            if !analysis.numbers.isEmpty { print("  numbers \(analysis.numbers.joined(separator: " "))") }
        }
        let judgement = try await Embed.using(embedder) { try await matcher.judge(cached: cached, incoming: incoming) }
        print(String(format: "similarity %.4f (threshold %.2f); guard: %@", judgement.similarity, configuration.cache.threshold, judgement.refusal?.description ?? "allows"))
    }
}
