import AfterimageLexicon
import Testing

/// WordNet loader, morphology and word relations, on words chosen here (none from the public pairs).
@Suite struct WordNetTests {
    static let wordNet = try! WordNet.open(directory: "/usr/share/wordnet")
    let relations = LexicalRelations(wordNet: Self.wordNet)

    @Test func placeholder() {
        #expect(Self.wordNet.knows("goose"))
    }
}
