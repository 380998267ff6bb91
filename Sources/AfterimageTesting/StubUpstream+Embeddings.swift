import AfterimageCore
import Foundation
import Hummingbird
import NIOFoundationCompat

extension StubUpstream {
    /// Dimension of the stub's embeddings.
    public static let embeddingDimension = 16

    /// `POST /v1/embeddings`, as OpenAI answers it: one unit vector per input (drawn from the
    /// text's SHA-256, so equal texts get equal vectors), in order, with `usage.prompt_tokens`
    /// = words. Faults queued for model `"embeddings"` answer instead (their body or status).
    func embeddings(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: 16 << 20)
        let fields = (try? JSONParser.parse(Data(buffer: body)))?.objectValue ?? [:]
        record(request, path: "embeddings", fields: fields, files: [])
        if let fault = nextFault(model: "embeddings") {
            if let answer = fault.body {
                return Response(status: .init(code: fault.status ?? 200), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: answer)))
            }
            if let status = fault.status {
                var response = Self.error(status, fault.message ?? "Injected fault \(status).", code: fault.code)
                if let retryAfter = fault.retryAfter { response.headers[.retryAfter] = retryAfter }
                return response
            }
        }
        let texts = fields["input"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let data: [JSONValue] = texts.enumerated().map { index, text in
            .object(["object": "embedding", "index": .integer(Int64(index)), "embedding": .array(Self.embedding(of: text).map { .number(Double($0)) })])
        }
        let words = texts.reduce(0) { $0 + $1.split(separator: " ").count }
        let answer: JSONValue = .object(["object": "list", "data": .array(data), "usage": .object(["prompt_tokens": .integer(Int64(words)), "total_tokens": .integer(Int64(words))])])
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.data(answer))))
    }

    /// The stub's unit vector for `text`.
    public static func embedding(of text: String) -> [Float] {
        let digest = Array(Data(text.utf8).sha256Hex.utf8)
        let raw = (0..<embeddingDimension).map { Float(Int(digest[$0]) - 80) }
        let norm = raw.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return raw.map { $0 / max(norm, 1) }
    }
}
