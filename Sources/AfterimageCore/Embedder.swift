import Foundation

/// One text's embedding.
public struct Embedding: Sendable, Equatable {
    /// L2-normalised vector.
    public var vector: [Float]
    /// Tokens the embedder consumed for this text (reported as `cache_debug.input_tokens`).
    public var tokenCount: Int

    public init(vector: [Float], tokenCount: Int) {
        self.vector = vector
        self.tokenCount = tokenCount
    }
}

/// Turns texts into L2-normalised vectors.
public protocol Embedder: Sendable {
    /// Vector length.
    var dimension: Int { get }
    /// Model id, e.g. `all-MiniLM-L6-v2`.
    var modelID: String { get }
    /// Who computes it: `local` for in-process models, else the provider name.
    var provider: String { get }
    /// Embeds a batch; the result has one entry per text, in order.
    func embed(_ texts: [String]) async throws -> [Embedding]
    /// Releases what the embedder holds (a remote one's HTTP client); called once, by the
    /// server's service group on shutdown or by the command that made it.
    func shutdown() async throws
}

extension Embedder {
    public func shutdown() async throws {}
}
