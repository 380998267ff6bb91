import AfterimageCore
import AfterimageEmbedding
import AfterimageTesting
import Foundation
import Testing

/// The `openai` embedder against a real stub `/v1/embeddings` on port 0: vectors in the answer's
/// order, usage spread over the texts, retries, and hostile answers refused with an error (never a
/// crash, a short vector or an overflow).
@Suite struct RemoteEmbedderTests {
    static func withStub(_ body: (StubUpstream, RemoteEmbedder) async throws -> Void) async throws {
        let stub = StubUpstream()
        try await stub.start()
        let embedder = RemoteEmbedder(
            baseURL: stub.baseURL, model: "text-embedding-3-small", apiKey: "sk-test", dimension: StubUpstream.embeddingDimension,
            retry: RetryPolicy(maxAttempts: 2, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(20))
        )
        do {
            try await body(stub, embedder)
        } catch {
            try? await embedder.shutdown()
            await stub.stop()
            throw error
        }
        try await embedder.shutdown()
        await stub.stop()
    }

    static func answer(_ items: [JSONValue], usage: JSONValue = .object(["prompt_tokens": 6])) -> StubUpstream.Fault {
        .answer(JSONWriter.data(.object(["object": "list", "data": .array(items), "usage": usage])))
    }

    static func item(_ index: JSONValue, _ values: [JSONValue]) -> JSONValue {
        .object(["object": "embedding", "index": index, "embedding": .array(values)])
    }

    static var unit: [JSONValue] { (0..<StubUpstream.embeddingDimension).map { $0 == 0 ? .number(1) : .number(0) } }

    @Test func vectorsUsageAndOrder() async throws {
        try await Self.withStub { stub, embedder in
            let texts = ["a red fox", "an owl at night", "tea"]
            let vectors = try await embedder.embed(texts)
            for (vector, text) in zip(vectors, texts) {
                #expect(zip(vector.vector, StubUpstream.embedding(of: text)).allSatisfy { abs($0 - $1) < 1e-6 })
            }
            #expect(vectors.map(\.tokenCount).reduce(0, +) == 8, "the reported 8 tokens, spread by length")
            #expect(stub.received.last?.authorization == "Bearer sk-test")
            // An answer out of order is put back in order by `index`.
            let second = (0..<StubUpstream.embeddingDimension).map { JSONValue.number($0 == 1 ? 2 : 0) }
            stub.inject([Self.answer([Self.item(1, second), Self.item(0, Self.unit)])], model: "embeddings")
            let reordered = try await embedder.embed(["x", "y"])
            #expect(reordered[0].vector[0] == 1 && reordered[1].vector[1] == 1, "normalised, in input order")
        }
    }

    @Test func retriesAServerErrorButNotARefusal() async throws {
        try await Self.withStub { stub, embedder in
            stub.inject([.status(503)], model: "embeddings")
            let retried = try await embedder.embed(["once more"])
            #expect(retried.count == 1)
            stub.inject([.status(400, message: "bad input")], model: "embeddings")
            await #expect(throws: RemoteEmbedder.Failure.self) { try await embedder.embed(["refused"]) }
        }
    }

    @Test func hostileAnswersAreRefused() async throws {
        let d = StubUpstream.embeddingDimension
        let hostile: [(String, StubUpstream.Fault)] = [
            ("an index twice", Self.answer([Self.item(0, Self.unit), Self.item(0, Self.unit)])),
            ("an index out of range", Self.answer([Self.item(0, Self.unit), Self.item(7, Self.unit)])),
            ("a negative index", Self.answer([Self.item(0, Self.unit), Self.item(-1, Self.unit)])),
            ("a string that is no index", Self.answer([Self.item(0, Self.unit), Self.item("second", Self.unit)])),
            ("too few values", Self.answer([Self.item(0, Self.unit), Self.item(1, Array(Self.unit.prefix(d - 1)))])),
            ("a value beyond Float's range", Self.answer([Self.item(0, Self.unit), Self.item(1, [.number(1e39)] + Self.unit.dropFirst())])),
            ("a string value", Self.answer([Self.item(0, Self.unit), Self.item(1, [.string("0.5")] + Self.unit.dropFirst())])),
            ("one item for two texts", Self.answer([Self.item(0, Self.unit)])),
            ("no data", .answer(Data(#"{"object":"list"}"#.utf8))),
            ("not JSON", .answer(Data("<html>".utf8))),
        ]
        try await Self.withStub { stub, embedder in
            for (name, fault) in hostile {
                stub.inject([fault], model: "embeddings")
                await #expect(throws: RemoteEmbedder.Failure.self, "\(name)") { try await embedder.embed(["first", "second"]) }
            }
        }
    }

    /// Reported token counts that would overflow the spreading arithmetic, or are negative, are
    /// bounded; values whose squares overflow Float still normalise.
    @Test func hostileUsageAndLargeValuesAreBounded() async throws {
        try await Self.withStub { stub, embedder in
            let large = (0..<StubUpstream.embeddingDimension).map { _ in JSONValue.number(3e38) }
            for usage: JSONValue in [.object(["prompt_tokens": .integer(.max)]), .object(["prompt_tokens": .integer(.min)]), .object(["total_tokens": "many"])] {
                stub.inject([Self.answer([Self.item(0, large), Self.item(1, Self.unit)], usage: usage)], model: "embeddings")
                let vectors = try await embedder.embed(["first", String(repeating: "long text ", count: 1_000)])
                let total = vectors.map(\.tokenCount).reduce(0, +)
                #expect(total >= 0 && total <= 100_000_000)
                #expect(vectors.allSatisfy { $0.tokenCount >= 0 })
                let norm = vectors[0].vector.reduce(Float(0)) { $0 + $1 * $1 }
                #expect(abs(norm - 1) < 1e-4, "a vector of huge values normalises")
            }
        }
    }
}
