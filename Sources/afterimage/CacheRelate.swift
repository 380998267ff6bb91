import AfterimageLexicon
import ArgumentParser
import Foundation

/// `afterimage cache relate`: how the guard's lexicon (WordNet) relates two words, to explain an
/// alignment or a refusal.
struct CacheRelate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relate", abstract: "How the guard's lexicon relates two words (lemma, synonym, hypernym, antonym, co-hyponym).",
        discussion: "Example: afterimage cache relate feline cat   →   hypernym(1)"
    )

    @OptionGroup var options: ConfigOptions
    @Argument(help: "Two words.") var words: [String]

    func run() throws {
        guard words.count == 2, words.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 128 }) else {
            throw ValidationError("give two words of at most 128 bytes")
        }
        let configuration = try options.load()
        let relations = LexicalRelations(
            wordNet: try WordNet.open(directory: configuration.cache.wordNetDirectory),
            senseLimit: configuration.cache.lexiconSenses, hypernymDepth: configuration.cache.hypernymDepth
        )
        for word in words {
            let lemmas = relations.wordNet.lemmas(word.lowercased()).map { "\($0.lemma)/\($0.pos.rawValue)" }
            print("\(word): \(lemmas.isEmpty ? "unknown to the lexicon" : lemmas.joined(separator: " "))")
        }
        print(relations.relation(words[0].lowercased(), words[1].lowercased()))
    }
}
