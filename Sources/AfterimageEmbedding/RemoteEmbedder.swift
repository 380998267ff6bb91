import AfterimageCore
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat

/// An OpenAI-compatible `POST {base_url}/embeddings` embedder (e.g. `text-embedding-3-small`),
/// batched, with timeouts and retries, reporting the upstream's token usage.
public final class RemoteEmbedder: Embedder {
    public let dimension: Int
    public let modelID: String
    public let provider: String
    let baseURL: String
    let apiKey: String?
    let client: HTTPClient
    let retry: RetryPolicy
    let timeout: TimeAmount
    let batchSize: Int

    public init(
        baseURL: String, model: String, apiKey: String?, dimension: Int, provider: String = "openai",
        retry: RetryPolicy = RetryPolicy(), timeout: TimeAmount = .seconds(30), batchSize: Int = 64
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.modelID = model
        self.apiKey = apiKey
        self.dimension = dimension
        self.provider = provider
        self.retry = retry
        self.timeout = timeout
        self.batchSize = max(1, batchSize)
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(timeout: .init(connect: .seconds(10), read: timeout)))
    }

    /// Closes the HTTP client's pool (the server's service group does this on shutdown).
    public func shutdown() async throws {
        try await client.shutdown()
    }

    deinit {
        // Released without `shutdown()` (a startup that failed later): close the pool anyway
        // (AsyncHTTPClient traps in debug builds on a client released while running).
        client.shutdown(queue: .global()) { _ in }
    }

    /// Problems talking to the embeddings API.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public func embed(_ texts: [String]) async throws -> [Embedding] {
        var result = [Embedding]()
        var start = 0
        while start < texts.count {
            let end = min(start + batchSize, texts.count)
            result.append(contentsOf: try await embedBatch(Array(texts[start..<end])))
            start = end
        }
        return result
    }

    func embedBatch(_ texts: [String]) async throws -> [Embedding] {
        let body = JSONWriter.data(JSONValue.object(["model": .string(modelID), "input": .array(texts.map(JSONValue.string))]))
        var lastProblem = "no attempt made"
        for attempt in 1...max(1, retry.maxAttempts) {
            var request = HTTPClientRequest(url: baseURL + "/embeddings")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
            request.body = .bytes(ByteBuffer(bytes: body))
            var retryAfter: String?
            do {
                let response = try await client.execute(request, timeout: timeout)
                let data = Data(buffer: try await response.body.collect(upTo: 64 << 20))
                let status = Int(response.status.code)
                if (200..<300).contains(status) { return try parse(data, texts: texts) }
                lastProblem = "HTTP \(status): \(String(decoding: data.prefix(200), as: UTF8.self))"
                guard status == 429 || status >= 500 else { throw Failure(description: "embeddings API answered \(lastProblem)") }
                retryAfter = response.headers.first(name: "Retry-After")
            } catch let failure as Failure {
                throw failure
            } catch {
                lastProblem = "\(error)"
            }
            if attempt < retry.maxAttempts { try await Task.sleep(for: retry.delay(afterAttempt: attempt, retryAfter: retryAfter)) }
        }
        throw Failure(description: "embeddings API unavailable after \(retry.maxAttempts) attempts: \(lastProblem)")
    }

    /// Most tokens one answer may report (larger or negative counts are not believed).
    static let maxReportedTokens = 100_000_000

    /// The answer's vectors, checked: one per text (each `index` exactly once), the configured
    /// dimension, finite values (a number beyond Float's range is not), L2-normalised (in Double,
    /// so large values cannot overflow the norm). The reported tokens are spread over the texts.
    func parse(_ data: Data, texts: [String]) throws -> [Embedding] {
        guard let json = try? JSONParser.parse(data), let items = json["data"]?.arrayValue, items.count == texts.count else {
            throw Failure(description: "embeddings API answer has no data list of \(texts.count) items")
        }
        var vectors = [[Float]?](repeating: nil, count: texts.count)
        for (position, item) in items.enumerated() {
            let index = item["index"].map { $0.integerValue.map(Int.init) ?? -1 } ?? position
            guard index >= 0, index < texts.count, vectors[index] == nil, let values = item["embedding"]?.arrayValue else {
                throw Failure(description: "embeddings API answer has a malformed or repeated item \(position)")
            }
            guard values.count == dimension else {
                throw Failure(description: "embeddings API returned \(values.count) dimensions, configured \(dimension)")
            }
            var vector = [Float]()
            vector.reserveCapacity(dimension)
            var squares = 0.0
            for value in values {
                let number: Double? = switch value {
                case .number(let n): n
                case .integer(let n): Double(n)
                default: nil
                }
                guard let number, Float(number).isFinite else {
                    throw Failure(description: "embeddings API returned a value that is not a finite number in item \(position)")
                }
                vector.append(Float(number))
                squares += number * number
            }
            let norm = squares.squareRoot()
            if norm > 0 { vector = vector.map { Float(Double($0) / norm) } }
            vectors[index] = vector
        }
        // The API reports one total; spread it over the texts by length so the parts add up.
        let reported = json["usage"]?["prompt_tokens"]?.integerValue ?? json["usage"]?["total_tokens"]?.integerValue ?? 0
        let total = Int(min(max(reported, 0), Int64(Self.maxReportedTokens)))
        let lengths = texts.map { min(max(1, $0.utf8.count), 1 << 24) }
        let sum = lengths.reduce(0, +)
        var counts = lengths.map { total * $0 / sum }
        if let last = counts.indices.last { counts[last] += total - counts.reduce(0, +) }
        return zip(vectors, counts).map { Embedding(vector: $0 ?? [], tokenCount: $1) }
    }
}
