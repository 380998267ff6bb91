import AfterimageCore
import AfterimageEmbedding
import Testing

@Suite struct HashingEmbedderTests {
    func cosine(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    @Test func deterministicNormalisedAndSensible() async throws {
        let embedder = HashingEmbedder(dimension: 256)
        let vectors = try await embedder.embed(["A red fox in the snow", "a red fox in the snow!", "quarterly tax report"])
        #expect(vectors[0] == (try await embedder.embed(["A red fox in the snow"]))[0])
        let norm = vectors[0].vector.reduce(0) { $0 + $1 * $1 }
        #expect(abs(norm - 1) < 1e-5)
        #expect(cosine(vectors[0].vector, vectors[1].vector) > 0.99)
        #expect(cosine(vectors[0].vector, vectors[2].vector) < 0.3)
        #expect(vectors[0].tokenCount == 6)
        #expect(embedder.dimension == 256)
    }
}
