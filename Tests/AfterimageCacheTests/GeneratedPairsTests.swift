import AfterimageCache
import AfterimageCore
import AfterimageEmbedding
import Foundation
import Testing

/// Pairs from a seeded template grammar written here (subjects, colours, counts, materials,
/// styles, settings, fillers): every one-attribute change must be refused and every filler or
/// synonym variant served, judged exactly as the server judges (MiniLM cosine at the shipped
/// threshold, then the guard at the shipped strictness).
@Suite struct GeneratedPairsTests {
    static let root = FalseHitGuardTests.root
    static let modelDirectory = root.appendingPathComponent("models/all-MiniLM-L6-v2").path

    /// Seeded, so every run judges the same pairs.
    typealias Seeded = SplitMix64

    /// One scene of the grammar; `text` renders it.
    struct Scene {
        var count: Int
        var colour: String
        var material: String
        var subject: (singular: String, plural: String)
        var setting: String
        var style: String

        var text: String {
            let numbers = ["", "one", "two", "three", "four", "five"]
            let noun = count == 1 ? subject.singular : subject.plural
            return "\(numbers[count]) \(colour) \(material) \(noun) \(setting), \(style)"
        }
    }

    static let subjects: [(String, String)] = [
        ("lantern", "lanterns"), ("teapot", "teapots"), ("violin", "violins"), ("hammer", "hammers"),
        ("sparrow", "sparrows"), ("tortoise", "tortoises"), ("pear", "pears"), ("trumpet", "trumpets"),
    ]
    /// Each subject's swap: a different thing of a close kind (WordNet co-hyponyms or strangers).
    static let swaps = ["lantern": "candle", "teapot": "kettle", "violin": "cello", "hammer": "wrench", "sparrow": "finch",
                        "tortoise": "lizard", "pear": "apple", "trumpet": "trombone"]
    static let colours = ["red", "blue", "green", "yellow", "purple", "orange"]
    static let materials = ["glass", "copper", "paper", "ceramic", "bronze"]
    static let settings = ["in a meadow", "on a sofa", "in a forest", "in a cemetery", "in a shop", "in an attic"]
    static let styles = ["watercolor", "pencil sketch", "pixel art", "oil painting"]
    static let fillers = ["please generate an image of ", "can you make me ", "I'd like to see ", "hey, "]
    static let endings = [" please", ". thanks!", "", "!"]
    /// Setting nouns and their WordNet synonyms (checked below, not assumed).
    static let settingSynonyms = ["meadow": "hayfield", "sofa": "couch", "forest": "woods", "cemetery": "graveyard", "shop": "store", "attic": "loft"]

    func scene(_ rng: inout Seeded) -> Scene {
        Scene(
            count: Int.random(in: 1...5, using: &rng), colour: Self.colours.randomElement(using: &rng)!,
            material: Self.materials.randomElement(using: &rng)!, subject: Self.subjects.randomElement(using: &rng)!,
            setting: Self.settings.randomElement(using: &rng)!, style: Self.styles.randomElement(using: &rng)!
        )
    }

    /// The scene with exactly one attribute changed, and the attribute's name.
    func changed(_ scene: Scene, _ rng: inout Seeded) -> (String, String) {
        var other = scene
        switch Int.random(in: 0..<7, using: &rng) {
        case 0:
            other.colour = Self.colours.filter { $0 != scene.colour }.randomElement(using: &rng)!
            return (other.text, "colour")
        case 1:
            other.count = scene.count % 5 + 1
            return (other.text, "count")
        case 2:
            other.material = Self.materials.filter { $0 != scene.material }.randomElement(using: &rng)!
            return (other.text, "material")
        case 3:
            other.style = Self.styles.filter { $0 != scene.style }.randomElement(using: &rng)!
            return (other.text, "style")
        case 4:
            let swap = Self.swaps[scene.subject.singular]!
            other.subject = (swap, swap.hasSuffix("ch") ? swap + "es" : swap + "s")
            return (other.text, "subject")
        case 5:
            other.setting = Self.settings.filter { $0 != scene.setting }.randomElement(using: &rng)!
            return (other.text, "setting")
        default:
            return (scene.text + ", without any " + ["people", "clouds", "birds"].randomElement(using: &rng)!, "negation")
        }
    }

    /// The scene reworded: filler around it, reordered tags, or a setting noun's synonym.
    func variant(_ scene: Scene, _ rng: inout Seeded) -> (String, String) {
        switch Int.random(in: 0..<3, using: &rng) {
        case 0:
            return (Self.fillers.randomElement(using: &rng)! + scene.text + Self.endings.randomElement(using: &rng)!, "filler")
        case 1:
            let parts = scene.text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            return ((parts.reversed()).joined(separator: ", ").uppercased(), "reorder")
        default:
            var text = scene.text
            for (word, synonym) in Self.settingSynonyms where text.contains(word) {
                text = text.replacingOccurrences(of: word, with: synonym)
            }
            return (text, "synonym")
        }
    }

    @Test func oneAttributeChangesAreRefusedAndRewordingsServed() async throws {
        try #require(FileManager.default.fileExists(atPath: Self.modelDirectory + "/model.safetensors"), "run scripts/fetch-model.sh")
        let settings = CacheSettings()
        let vocabulary = try GuardVocabulary.load(directory: Self.root.appendingPathComponent("Config/guard").path)
        let lexicon = try #require(vocabulary.lexicon)
        for (word, synonym) in Self.settingSynonyms {
            #expect(lexicon.relation(word, synonym).aligns, "\(word)/\(synonym) must be related in WordNet for the variant to be fair")
        }
        var embedderSettings = EmbedderSettings()
        embedderSettings.modelDirectory = Self.modelDirectory
        let embedder = try EmbedderFactory.make(embedderSettings)
        let matcher = CacheMatcher(vocabulary: vocabulary, embedder: embedder, wordSimilarity: settings.wordSimilarity)
        var rng = Seeded(seed: 20_261_203)
        var refused = [String: (Int, Int)](), served = [String: (Int, Int)]()
        var failures = [String]()
        for _ in 0..<100 {
            let base = scene(&rng)
            let (change, attribute) = changed(base, &rng)
            let judged = try await matcher.judge(cached: base.text, incoming: change)
            let refusedNow = !judged.served(at: settings.threshold)
            refused[attribute, default: (0, 0)].0 += refusedNow ? 1 : 0
            refused[attribute, default: (0, 0)].1 += 1
            if !refusedNow { failures.append("served a \(attribute) change: \(base.text) || \(change)") }
            let (reworded, kind) = variant(base, &rng)
            let judgedVariant = try await matcher.judge(cached: base.text, incoming: reworded)
            let servedNow = judgedVariant.served(at: settings.threshold)
            served[kind, default: (0, 0)].0 += servedNow ? 1 : 0
            served[kind, default: (0, 0)].1 += 1
            if !servedNow { failures.append("refused a \(kind) variant (\(judgedVariant.refusal(at: settings.threshold)?.description ?? "")): \(base.text) || \(reworded)") }
        }
        try await embedder.shutdown()
        let refusedTotal = refused.values.reduce(0) { $0 + $1.0 }, changes = refused.values.reduce(0) { $0 + $1.1 }
        let servedTotal = served.values.reduce(0) { $0 + $1.0 }, variants = served.values.reduce(0) { $0 + $1.1 }
        print("generated pairs: one-attribute changes refused \(refusedTotal)/\(changes) \(refused.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.0)/\($0.value.1)" }); "
            + "rewordings served \(servedTotal)/\(variants) \(served.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.0)/\($0.value.1)" })")
        #expect(failures.isEmpty, "\(failures.count) wrong: \(failures.prefix(5))")
    }
}
