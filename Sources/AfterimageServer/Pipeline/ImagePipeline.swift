import AfterimageCache
import AfterimageCore
import AfterimageUpstream
import Foundation
import HTTPTypes
import Hummingbird

/// The request pipeline of both image endpoints, in order:
/// auth → parse and validate → limits → cache lookup → upstream (retries, fallbacks) → store → meter → respond.
struct ImagePipeline: Sendable {
    let authenticator: Authenticator
    let router: ModelRouter
    let dispatcher: UpstreamDispatcher
    let assembler: ImageResponseAssembler
    let metrics: ServerMetrics
    let maxBodyBytes: Int
    /// The semantic cache; nil when `cache.enabled` is false.
    let cache: SemanticCache?
    let inFlight = SingleFlight<String, MissResult>()

    /// The models to try, validated, and the request as it will be forwarded.
    struct Plan: Sendable {
        var request: ImageRequest
        var targets: [UpstreamTarget]
    }

    func handle(_ request: Request, context: AfterimageRequestContext, endpoint: ImageEndpoint) async throws -> Response {
        let clock = ContinuousClock()
        let started = clock.now
        context.info.update { $0.endpoint = endpoint }

        // 1. Auth: before the body is read, so an unknown caller cannot make us buffer anything.
        let key = try await authenticator.authenticate(request.headers)
        context.info.update { $0.keyID = key.id }

        // 2. Parse and validate against the model's capabilities; read the cache controls.
        let parsed = try await parse(request, endpoint: endpoint)
        context.info.update { $0.modelRequested = parsed.model }
        let plan = try makePlan(parsed, key: key)
        let controls = try CacheControlHeaders(request.headers)
        let primary = plan.targets[0].model
        context.info.update {
            $0.provider = primary.provider
            $0.modelLabel = primary.id
        }

        // 3. Limits and budget reservation: arrive with metering (issue #5).

        // 4. Cache lookup: direct (normalised prompt), then semantic (index + false-hit guard).
        var lookup = CacheLookupState(request: plan.request, model: primary, namespace: key.namespace, controls: controls, cache: cache)
        if let entry = try await lookup.find() {
            context.info.update { $0.cacheOutcome = lookup.debug.outcome }
            return try await respondFromCache(entry, plan: plan, debug: lookup.debug, context: context, since: started)
        }
        context.info.update { $0.cacheOutcome = lookup.debug.outcome }

        // 5–6. Upstream with retries and fallbacks, then store the images and the cache entry.
        // Concurrent identical misses in a namespace share one upstream call.
        let miss: MissResult
        let leader: Bool
        let settled = lookup
        if let flightKey = settled.flightKey {
            (miss, leader) = try await inFlight.run(flightKey) { try await forward(plan, lookup: settled) }
        } else {
            (miss, leader) = (try await forward(plan, lookup: settled), true)
        }
        if !leader, let entry = miss.entry {
            var debug = lookup.debug
            debug.outcome = "direct"
            debug.entryID = entry.id
            context.info.update { $0.cacheOutcome = "direct" }
            return try await respondFromCache(entry, plan: plan, debug: debug, context: context, since: started)
        }
        metrics.recordUpstream(model: miss.target.model.id, duration: miss.upstreamDuration)
        context.info.update {
            $0.provider = miss.target.model.provider
            $0.upstreamAttempts = miss.attempts
        }

        // 7. Meter: arrives with metering (issue #5).

        // 8. Respond.
        var debug = lookup.debug
        debug.entryID = miss.entry?.id
        var body = miss.top
        body["data"] = .array(assembler.render(miss.outputs, format: plan.request.responseFormat))
        body["id"] = .string(context.info.values.requestID)
        body["model"] = .string(miss.target.model.id)
        body["extra_fields"] = extraFields(
            endpoint: endpoint, provider: miss.target.model.provider, requested: parsed.model, deployment: miss.target.model.id,
            since: started, debug: debug, attempts: miss.attempts
        )
        return JSONResponse.make(.object(body), headers: debug.headers)
    }

    /// What a miss produced: the upstream answer, its stored images and (unless `no-store`) the cache entry.
    struct MissResult: Sendable {
        var target: UpstreamTarget
        var top: [String: JSONValue]
        var outputs: [ImageResponseAssembler.Output]
        var attempts: Int
        var upstreamDuration: Duration
        var entry: CacheEntry?
    }

    /// Upstream call, image storage and cache store; the embedding (when the lookup did not
    /// compute it) runs concurrently with the upstream call.
    func forward(_ plan: Plan, lookup: CacheLookupState) async throws -> MissResult {
        async let embedding = lookup.embeddingForStore()
        let result = try await dispatcher.dispatch(plan.targets, onRetry: { metrics.recordRetry() })
        let (top, outputs) = try await assembler.store(upstreamBody: result.reply.body)
        var miss = MissResult(target: result.target, top: top, outputs: outputs, attempts: result.attempts, upstreamDuration: result.duration)
        if let cache, lookup.shouldStore {
            let now = Date()
            let vector = await embedding
            miss.entry = try await cache.store(CacheEntry(
                namespace: lookup.namespace, partitionKey: lookup.partitionKey, directKey: lookup.directKey,
                prompt: lookup.prompt, normalizedPrompt: lookup.normalizedPrompt,
                embedding: vector, embeddingModel: vector == nil ? nil : cache.embedder.modelID,
                endpoint: plan.request.endpoint, provider: result.target.model.provider, model: result.target.model.id,
                response: top, images: outputs.map(\.image), imageExtras: outputs.map(\.extra),
                createdAt: now, expiresAt: now.addingTimeInterval(TimeInterval(lookup.ttlSeconds))
            ))
        }
        return miss
    }

    /// A hit: the stored images in the format the client asked for, `usage` zeroed, `created` now.
    func respondFromCache(_ entry: CacheEntry, plan: Plan, debug: CacheDebug, context: AfterimageRequestContext, since started: ContinuousClock.Instant) async throws -> Response {
        var outputs = [ImageResponseAssembler.Output]()
        for (image, extra) in zip(entry.images, entry.imageExtras) {
            guard let (stored, data) = try await assembler.blobs.get(id: image.id) else {
                throw AfterimageError.internalError("Cached image \(image.id) is missing from storage.")
            }
            outputs.append(.init(image: stored, data: data, extra: extra))
        }
        await cache?.recordHit(entry, kind: debug.outcome == "semantic" ? .semantic : .direct)
        var body = entry.response
        body["created"] = .integer(Int64(Date().timeIntervalSince1970))
        if let usage = body["usage"] { body["usage"] = usage.zeroed }
        body["data"] = .array(assembler.render(outputs, format: plan.request.responseFormat))
        body["id"] = .string(context.info.values.requestID)
        body["model"] = .string(entry.model)
        body["extra_fields"] = extraFields(
            endpoint: plan.request.endpoint, provider: entry.provider, requested: plan.request.model, deployment: entry.model,
            since: started, debug: debug, attempts: 0
        )
        context.info.update { $0.provider = entry.provider }
        return JSONResponse.make(.object(body), headers: debug.headers)
    }

    func extraFields(
        endpoint: ImageEndpoint, provider: String, requested: String, deployment: String,
        since started: ContinuousClock.Instant, debug: CacheDebug, attempts: Int
    ) -> JSONValue {
        .object([
            "request_type": .string(endpoint.requestType),
            "provider": .string(provider),
            "model_requested": .string(requested),
            "model_deployment": .string(deployment),
            "latency": .integer(Int64(RequestLogMiddleware.milliseconds(ContinuousClock.now - started))),
            "upstream_attempts": .integer(Int64(attempts)),
            "cache_debug": debug.json,
        ])
    }

    func parse(_ request: Request, endpoint: ImageEndpoint) async throws -> ImageRequest {
        switch endpoint {
        case .generations:
            return try GenerationRequestParser.parse(try await BodyReader.collect(request, limit: maxBodyBytes))
        case .edits:
            return try await EditRequestParser.parse(request, limit: maxBodyBytes)
        }
    }

    /// Resolves the model and each fallback for this key, validates the request against each,
    /// and settles the response format.
    func makePlan(_ parsed: ImageRequest, key: VirtualKey) throws -> Plan {
        var request = parsed
        let primary = try router.resolve(request.model, for: key)
        if !request.responseFormatGiven {
            request.responseFormat = primary.acceptsResponseFormat ? .url : .b64JSON
        }
        try RequestValidator.validate(request, against: primary)
        var models = [primary]
        for (index, id) in request.fallbacks.enumerated() {
            let model = try router.resolve(id, for: key, param: "fallbacks")
            do {
                try RequestValidator.validate(request, against: model, param: "fallbacks")
            } catch var error as AfterimageError {
                error.message = "Fallback \(index + 1) ('\(id)'): \(error.message)"
                throw error
            }
            if !models.contains(model) { models.append(model) }
        }
        let targets = try models.map { model in
            UpstreamTarget(model: model, call: try UpstreamCallBuilder.call(for: request, model: model, provider: try router.endpoint(for: model)))
        }
        return Plan(request: request, targets: targets)
    }
}
