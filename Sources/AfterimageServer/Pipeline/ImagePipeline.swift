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

        // 2. Parse and validate against the model's capabilities.
        let parsed = try await parse(request, endpoint: endpoint)
        context.info.update { $0.modelRequested = parsed.model }
        let plan = try makePlan(parsed, key: key)
        context.info.update {
            $0.provider = plan.targets[0].model.provider
            $0.modelLabel = plan.targets[0].model.id
            $0.cacheOutcome = "miss"
        }

        // 3. Limits and budget reservation: arrive with metering (issue #5).
        // 4. Cache lookup: arrives with the semantic cache (issue #4).

        // 5. Upstream, with retries and fallbacks.
        let result = try await dispatcher.dispatch(plan.targets, onRetry: { metrics.recordRetry() })
        metrics.recordUpstream(model: result.target.model.id, duration: result.duration)
        context.info.update {
            $0.provider = result.target.model.provider
            $0.upstreamAttempts = result.attempts
        }

        // 6. Store the image bytes.
        let (top, outputs) = try await assembler.store(upstreamBody: result.reply.body)

        // 7. Meter: arrives with metering (issue #5).

        // 8. Respond.
        var body = top
        body["data"] = .array(assembler.render(outputs, format: plan.request.responseFormat))
        body["id"] = .string(context.info.values.requestID)
        body["model"] = .string(result.target.model.id)
        body["extra_fields"] = .object([
            "request_type": .string(endpoint.requestType),
            "provider": .string(result.target.model.provider),
            "model_requested": .string(parsed.model),
            "model_deployment": .string(result.target.model.id),
            "latency": .integer(Int64(RequestLogMiddleware.milliseconds(clock.now - started))),
            "upstream_attempts": .integer(Int64(result.attempts)),
            "cache_debug": .object(["cache_hit": .bool(false)]),
        ])
        return JSONResponse.make(.object(body), headers: [HTTPField.Name("x-afterimage-cache")!: "miss"])
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
