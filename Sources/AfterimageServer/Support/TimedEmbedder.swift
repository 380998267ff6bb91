import AfterimageCore
import AfterimageTracing

/// An embedder that records each call's duration in `afterimage_embedding_duration_seconds`
/// and, with tracing on, an `embedding` span.
struct TimedEmbedder: Embedder {
    let base: any Embedder
    let metrics: ServerMetrics
    var tracer = RequestTracer.off

    var dimension: Int { base.dimension }
    var modelID: String { base.modelID }
    var provider: String { base.provider }

    func embed(_ texts: [String]) async throws -> [Embedding] {
        let started = ContinuousClock.now
        defer { metrics.recordEmbedding(duration: ContinuousClock.now - started) }
        return try await tracer.span("embedding") { span in
            span?.attributes["afterimage.embedding.texts"] = texts.count
            return try await base.embed(texts)
        }
    }

    func shutdown() async throws {
        try await base.shutdown()
    }
}
