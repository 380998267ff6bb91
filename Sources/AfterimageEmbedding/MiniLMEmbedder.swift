import AfterimageCore
import Crypto
import Foundation

/// The default embedder: a sentence-transformers BERT model (all-MiniLM-L6-v2) run in-process on
/// BLAS — fast, private and free.
public final class MiniLMEmbedder: Embedder {
    public let dimension: Int
    public let modelID: String
    public let provider = "local"
    public let tokenizer: WordPieceTokenizer
    public let encoder: BertEncoder
    /// Coalesces concurrent calls into shared forward passes on the embedding lanes.
    let batcher: MicroBatcher

    /// Files a model directory must hold.
    public static let requiredFiles = ["config.json", "vocab.txt", "tokenizer_config.json", "model.safetensors", "1_Pooling/config.json"]

    /// Loads a model directory. Errors name the file and the problem.
    public init(directory: String, executor: EmbeddingExecutor = EmbeddingExecutor(), batchSize: Int = 32, precision: WeightPrecision = .bfloat16) throws {
        // Each lane calls BLAS on its own thread: OpenBLAS's pool stays at one thread.
        BLASRuntime.setThreads(1)
        let root = URL(fileURLWithPath: directory)
        func path(_ name: String) -> String { root.appendingPathComponent(name).path }
        for name in Self.requiredFiles where !FileManager.default.fileExists(atPath: path(name)) {
            throw Safetensors.FormatError(file: path(name), problem: "missing")
        }
        let configuration = try BertConfiguration(file: path("config.json"))
        let pooling = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("1_Pooling/config.json"))))) as? [String: Any]
        guard pooling?["pooling_mode_mean_tokens"] as? Bool == true else {
            throw Safetensors.FormatError(file: "1_Pooling/config.json", problem: "only mean pooling is supported")
        }
        var maxLength = 256
        if let data = FileManager.default.contents(atPath: path("sentence_bert_config.json")),
           let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let value = json["max_seq_length"] as? Int {
            maxLength = value
        }
        self.tokenizer = try WordPieceTokenizer(vocabularyFile: path("vocab.txt"), maxLength: min(maxLength, configuration.maxPositions))
        self.encoder = try BertEncoder(configuration: configuration, weightsFile: try Safetensors(path: path("model.safetensors")), precision: precision)
        self.dimension = configuration.hiddenSize
        self.modelID = root.lastPathComponent
        let encoder = self.encoder, tokenizer = self.tokenizer
        self.batcher = MicroBatcher(executor: executor, maxSequences: batchSize) { texts in
            let ids = texts.map(tokenizer.encode)
            return zip(encoder.encode(ids), ids).map { Embedding(vector: $0, tokenCount: $1.count) }
        }
    }

    /// Joins the next shared forward pass (`MicroBatcher`): concurrent calls are tokenised and
    /// encoded together on an embedding lane, at most `batchSize` texts per pass.
    public func embed(_ texts: [String]) async throws -> [Embedding] {
        await batcher.embed(texts)
    }

    /// Forward passes run and texts encoded so far (texts / passes is the mean batch size).
    public var batchStatistics: (passes: Int, texts: Int) {
        let statistics = batcher.statistics
        return (statistics.passes, statistics.sequences)
    }

    /// Token ids as the model sees them (for `afterimage embed`).
    public func inputIDs(_ text: String) -> [Int32] { tokenizer.encode(text) }
}

/// The SHA-256 manifest of the all-MiniLM-L6-v2 files (`scripts/minilm.sha256` holds the same).
public enum MiniLMManifest {
    public static let defaultDirectory = "models/all-MiniLM-L6-v2"
    public static let fetchCommand = "scripts/fetch-model.sh"
    public static let sha256: [String: String] = [
        "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
        "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
        "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
        "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
        "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
        "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
    ]

    /// The first file that is missing or whose hash differs, as a one-line problem, or nil.
    public static func problem(in directory: String) -> String? {
        for name in sha256.keys.sorted() {
            let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            guard let handle = FileHandle(forReadingAtPath: path) else {
                return "model file \(path) is missing; fetch it with: \(fetchCommand)"
            }
            defer { try? handle.close() }
            var hasher = SHA256()
            while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
            if Data(hasher.finalize()).hexString != sha256[name] {
                return "model file \(path) fails its SHA-256 check; fetch it again with: \(fetchCommand)"
            }
        }
        return nil
    }
}
