import AfterimageCore
import Foundation

/// `cache.embedder` settings: which embedder to build and how.
public struct EmbedderSettings: Sendable, Equatable {
    /// `minilm` (default, in-process), `openai` (remote `/embeddings`) or `hashing` (no model).
    public enum Kind: String, Sendable, CaseIterable {
        case minilm
        case openai
        case hashing
    }

    public var kind: Kind = .minilm
    /// MiniLM model directory (`cache.embedder.model_dir`, env `AFTERIMAGE_MODEL_DIR`).
    public var modelDirectory = MiniLMManifest.defaultDirectory
    /// Remote embedder base URL, e.g. `https://api.openai.com/v1`.
    public var baseURL = "https://api.openai.com/v1"
    /// Remote model name.
    public var model = "text-embedding-3-small"
    /// Env var holding the remote embedder's key.
    public var apiKeyEnv = "OPENAI_API_KEY"
    /// The key read from `apiKeyEnv`.
    public var apiKey: String?
    /// Vector length of the remote (default 1536) or hashing (default 384) embedder; MiniLM reads its own.
    public var dimension: Int?
    /// Threads for embedding work and for BLAS (1 by default: the server has its own concurrency).
    public var threads = 1
    /// How MiniLM holds its layer weights (`cache.embedder.precision`): bfloat16 (default, half the
    /// memory traffic, cosine ≥ 0.9999 to the reference) or float32 (BLAS, exact to float rounding).
    public var precision: WeightPrecision = .bfloat16

    public init() {}
}

/// Builds the configured embedder.
public enum EmbedderFactory {
    /// The embedder for `settings`; for MiniLM, the files are checked against the manifest first
    /// when the directory is the default one. Errors are one line naming the file and the fix.
    public static func make(_ settings: EmbedderSettings, verifyManifest: Bool = true) throws -> any Embedder {
        switch settings.kind {
        case .minilm:
            if verifyManifest, settings.modelDirectory.hasSuffix(MiniLMManifest.defaultDirectory),
               let problem = MiniLMManifest.problem(in: settings.modelDirectory) {
                throw EmbedderUnavailable(description: problem)
            }
            do {
                return try MiniLMEmbedder(directory: settings.modelDirectory, executor: EmbeddingExecutor(workers: settings.threads), precision: settings.precision)
            } catch let error as Safetensors.FormatError {
                throw EmbedderUnavailable(description: "model file \(error.description); fetch the default model with: \(MiniLMManifest.fetchCommand)")
            }
        case .openai:
            return RemoteEmbedder(baseURL: settings.baseURL, model: settings.model, apiKey: settings.apiKey, dimension: settings.dimension ?? 1536)
        case .hashing:
            return HashingEmbedder(dimension: settings.dimension ?? 384)
        }
    }
}

/// The configured embedder cannot be built.
public struct EmbedderUnavailable: Error, CustomStringConvertible {
    public let description: String
}
