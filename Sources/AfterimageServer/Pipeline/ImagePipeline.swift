import AfterimageAlerts
import AfterimageCache
import AfterimageCore
import AfterimageMetering
import AfterimageTracing
import AfterimageUpstream
import Foundation
import HTTPTypes
import Hummingbird

/// The request pipeline of both image endpoints, in order:
/// auth → requests per minute → body memory → parse and validate (bounded) → images per minute → cache lookup
/// → budget → upstream (retries, fallbacks) → store → meter → ledger → respond.
struct ImagePipeline: Sendable {
    let authenticator: Authenticator
    let router: ModelRouter
    let dispatcher: UpstreamDispatcher
    let assembler: ImageResponseAssembler
    let metrics: ServerMetrics
    let meter: Meter
    let tuner: CacheTuner
    let limits: InputLimits
    /// Requests without a valid key: counted and throttled per client address, no row each.
    let unauthenticated: UnauthenticatedRequests
    /// `server.max_inflight_body_bytes`: memory request bodies may hold together.
    let bodyMemory: BodyMemoryBudget
    /// `streaming.max_capture_bytes`.
    let maxCaptureBytes: Int
    /// Finishes streamed misses whose response body never started.
    let watchdog: StreamWatchdog
    /// The semantic cache; nil when `cache.enabled` is false.
    let cache: SemanticCache?
    /// Concurrent identical misses in this process share one call…
    let inFlight = SingleFlight<String, FlightResult>()
    /// …and across replicas (PostgreSQL claims); nil with one process.
    let flights: (any FlightClaims)?
    /// How long a flight claim lasts without renewal (the owner renews it every third of this).
    var flightLease: Duration = .seconds(30)
    /// The longest a replica waits for another's call before making its own.
    var flightMaxWait: Duration = .seconds(360)
    /// Spans for each step below (off unless `tracing.enabled`).
    var tracer = RequestTracer.off
    /// Budget and failover alerts (an `AlertCenter` without webhooks does nothing).
    var alerts: AlertCenter

    /// The models to try, validated, and the request as it will be forwarded.
    struct Plan: Sendable {
        var request: ImageRequest
        var targets: [UpstreamTarget]
    }

    func handle(_ request: Request, context: AfterimageRequestContext, endpoint: ImageEndpoint) async throws -> Response {
        let started = ContinuousClock.now
        context.info.update { $0.endpoint = endpoint }
        var record = UsageRecord(requestID: context.info.values.requestID, createdAt: Date(), endpoint: endpoint)
        var reservation: BudgetReservation?
        let response: Response
        let attempts = AttemptLog()
        let memory = BodyMemoryBudget.Lease(bodyMemory)
        defer { memory.release() }
        do {
            response = try await process(
                request, context: context, started: started, record: &record, reservation: &reservation, attempts: attempts, memory: memory
            )
        } catch {
            let failure = AfterimageError.from(error)
            if record.keyID == nil, failure.statusCode == 401 || failure.code == .rateLimited {
                // No key, no row: counted per minute and client address instead (a flood of
                // unauthenticated requests cannot fill the ledger or fsync once each).
                unauthenticated.count(source: context.clientAddress)
                throw failure
            }
            // Failures are metered too, before the error goes out.
            record.status = failure.statusCode
            record.errorCode = failure.code.rawValue
            record.attempts = attempts.outcomes
            record.latencyMs = RequestLogMiddleware.milliseconds(ContinuousClock.now - started)
            _ = await meter.close(record, reservation: reservation)
            throw failure
        }
        return response
    }

    /// 9. Ledger: a success is answered only once its row is committed; the budget reservation
    /// settles to the real cost with it.
    func commit(
        _ record: inout UsageRecord, reservation: inout BudgetReservation?, attempts: AttemptLog, started: ContinuousClock.Instant
    ) async throws {
        record.attempts = attempts.outcomes
        record.latencyMs = RequestLogMiddleware.milliseconds(ContinuousClock.now - started)
        let held = reservation
        reservation = nil
        let closing = record
        if let failure = await tracer.span("ledger.commit", { _ in await meter.close(closing, reservation: held) }) {
            throw Self.withheld(failure)
        }
    }

    /// The error a client gets when its ledger row could not be written (the answer is withheld).
    static func withheld(_ failure: any Error) -> AfterimageError {
        if let unavailable = failure as? StorageUnavailable { return unavailable.clientError }
        return AfterimageError.internalError("The usage ledger could not be written; the answer was withheld.")
    }

    /// The pipeline proper; `record` collects the ledger row as it goes, and every success commits
    /// it before answering (a streamed miss when its stream ends, before its completed events).
    func process(
        _ request: Request, context: AfterimageRequestContext, started: ContinuousClock.Instant,
        record: inout UsageRecord, reservation: inout BudgetReservation?, attempts: AttemptLog, memory: BodyMemoryBudget.Lease
    ) async throws -> Response {
        let endpoint = record.endpoint

        // 1. Auth: before the body is read, so an unknown caller cannot make us buffer anything;
        //    one address sending too many requests without a valid key is throttled first.
        let key = try await tracer.span("auth") { _ in
            try unauthenticated.admit(source: context.clientAddress)
            return try await authenticator.authenticate(request.headers)
        }
        context.info.update { $0.keyID = key.id }
        (record.keyID, record.keyName, record.namespace) = (key.id, key.name, key.namespace)

        // 2. Requests per minute, for the key and its namespace: every authenticated request
        //    counts, also one that ends in a 4xx.
        let scopes = try await tracer.span("limits") { _ in
            let scopes = try await meter.scopes(for: key)
            try await meter.admit(scopes, imageCount: 0, countsRequest: true)
            return scopes
        }

        // 3. Body memory: reserved before a byte of the body is read (waits, or 503 when busy).
        //    Then parse (every field bounded while reading) and validate against the model's
        //    capabilities; read the cache controls.
        let bodyLimit = endpoint == .edits ? limits.maxBodyBytes : limits.maxJSONBytes
        try BodyReader.checkDeclaredLength(request, limit: bodyLimit)
        try await memory.acquire(BodyMemoryBudget.reservation(declared: request.headers[.contentLength].flatMap { Int($0) }, limit: bodyLimit))
        let parsed = try await parse(request, endpoint: endpoint)
        context.info.update { $0.modelRequested = parsed.model }
        record.modelRequested = parsed.model
        record.size = parsed.fields["size"]?.stringValue
        record.quality = parsed.fields["quality"]?.stringValue
        let plan = try makePlan(parsed, key: key)
        let primary = plan.targets[0].model
        let controls = try CacheControls(request.headers, maxTTLSeconds: cache?.settings.ttlSeconds(for: key.namespace))
        context.info.update {
            $0.provider = primary.provider
            $0.modelLabel = primary.id
        }
        (record.provider, record.modelUsed) = (primary.provider, primary.id)

        // Images per minute (hits count).
        try await meter.admit(scopes, imageCount: plan.request.imageCount, countsRequest: false)

        // 4. Cache lookup: direct (normalised prompt), then semantic (index + false-hit guard).
        let tuned = await tuner.resolve(namespace: key.namespace, model: primary.id)
        var lookup = CacheLookup(request: plan.request, model: primary, namespace: key.namespace, controls: controls, cache: cache, tuned: tuned)
        lookup.logged = tuner.samples()
        let found = try await tracer.span("cache.lookup") { span in
            let found = try await lookup.find()
            span?.attributes["afterimage.cache"] = lookup.debug.outcome.rawValue
            if let similarity = lookup.debug.similarity { span?.attributes["afterimage.similarity"] = Double(similarity) }
            return found
        }
        await tuner.record(lookup, outcome: lookup.semantic, requestID: record.requestID)
        context.info.update { $0.cacheOutcome = lookup.debug.outcome }
        record.cache = lookup.debug.outcome
        record.similarity = lookup.debug.similarity.map(Double.init)
        record.embeddingTokens = lookup.debug.inputTokens
        if lookup.debug.outcome != .bypass {
            metrics.recordLookup(result: lookup.debug.metricResult, similarity: lookup.debug.similarity)
        }
        if let entry = found {
            let response = try await respondFromCache(entry, plan: plan, debug: lookup.debug, context: context, since: started, record: &record)
            try await commit(&record, reservation: &reservation, attempts: attempts, started: started)
            return response
        }

        // 5. Budget: reserve the worst-case cost before anything goes upstream (a hit spends none).
        reservation = try await meter.reserve(scopes, request: plan.request, models: plan.targets.map(\.model))

        // 6s. `stream=true`: Server-Sent Events straight from the upstream (ImagePipeline+Streaming).
        if plan.request.isStream {
            let response = try await streamMiss(
                plan, lookup: lookup, record: record, reservation: reservation, started: started, context: context, attempts: attempts, scopes: scopes
            )
            return response
        }

        // 6–7. Upstream with retries and fallbacks, then store the images and the cache entry.
        // Concurrent identical misses in a namespace share one upstream call.
        let flight: FlightResult
        let leader: Bool
        let settled = lookup
        // The row so far: the request that makes the call commits it with its cache entry.
        let draft = LedgerDraft(record: record, started: started, attempts: attempts)
        do {
            if let flightKey = settled.flightKey {
                (flight, leader) = try await inFlight.run(flightKey) {
                    try await forwardOnce(plan, lookup: settled, attempts: attempts, key: flightKey, ledger: draft)
                }
            } else {
                (flight, leader) = (.forwarded(try await forward(plan, lookup: settled, attempts: attempts, ledger: draft)), true)
            }
        } catch let paid as PaidFailure {
            // Only the request that made the call (its attempts are logged) pays for it.
            if !attempts.outcomes.isEmpty {
                record.apply(paid: paid)
                // Committed on the way out; the budget check (within a second) reads it.
                if (record.cost ?? .zero) > .zero { alerts.spentMoney(scopes) }
            }
            throw paid.error
        }
        // Another request (here or on another replica) made the call: its stored answer is a direct hit.
        let shared: CacheEntry? = switch flight {
        case .cached(let entry): entry
        case .forwarded(let miss): leader ? nil : miss.entry
        }
        if let entry = shared {
            var debug = lookup.debug
            debug.outcome = .direct
            debug.entryID = entry.id
            context.info.update { $0.cacheOutcome = .direct }
            record.cache = .direct
            let response = try await respondFromCache(entry, plan: plan, debug: debug, context: context, since: started, record: &record)
            try await commit(&record, reservation: &reservation, attempts: attempts, started: started)
            return response
        }
        guard case .forwarded(let miss) = flight else { throw AfterimageError.internalError("a shared miss without an answer") }
        metrics.recordUpstream(model: miss.target.model.id, duration: miss.upstreamDuration)
        context.info.update {
            $0.provider = miss.target.model.provider
            $0.upstreamAttempts = miss.attempts
        }

        // 8. Meter: what the upstream consumed and cost (its `usage`, else an estimate) — already
        //    in the row when the cache entry's transaction committed it (`LedgerDraft`).
        let committedRow = leader ? miss.committedRow : nil
        if let committedRow {
            record = committedRow
        } else {
            meterMiss(miss, into: &record)
        }

        // 10. Respond.
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
        if committedRow != nil {
            await meter.closeCommitted(record, reservation: reservation)
            reservation = nil
        } else {
            try await commit(&record, reservation: &reservation, attempts: attempts, started: started)
        }
        if (record.cost ?? .zero) > .zero { alerts.spentMoney(scopes) }
        if miss.target.model.id != primary.id { alerts.raise(.failover(from: primary.id, to: miss.target.model.id, attempts: miss.attempts)) }
        return JSONResponse.make(.object(body), headers: debug.headers)
    }

    /// A hit: the stored images in the format the client asked for, `usage` zeroed, `created` now.
    func respondFromCache(
        _ entry: CacheEntry, plan: Plan, debug: CacheDebug, context: AfterimageRequestContext, since started: ContinuousClock.Instant,
        record: inout UsageRecord
    ) async throws -> Response {
        var outputs = [ImageResponseAssembler.Output]()
        // A hit answered as `url` needs no bytes: the signed URL names the stored file (which the
        // sweeper keeps while a live entry references it), so no blob is read or encoded.
        let needsBytes = plan.request.responseFormat == .b64JSON || plan.request.isStream
        for (image, extra) in zip(entry.images, entry.imageExtras) {
            if !needsBytes {
                outputs.append(.init(image: image, data: Data(), extra: extra))
                continue
            }
            guard let (stored, data) = try await assembler.blobs.get(id: image.id) else {
                throw AfterimageError.internalError("Cached image \(image.id) is missing from storage.")
            }
            outputs.append(.init(image: stored, data: data, extra: extra))
        }
        cache?.recordHit(entry, kind: debug.outcome == .semantic ? .semantic : .direct)
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
        // A hit consumed nothing upstream; it saved what the original miss cost.
        (record.provider, record.modelUsed, record.cacheEntryID) = (entry.provider, entry.model, entry.id)
        record.images = outputs.count
        record.size = entry.response["size"]?.stringValue ?? record.size
        record.quality = entry.response["quality"]?.stringValue ?? record.quality
        record.cost = .zero
        record.saved = entry.cost ?? .zero
        meter.chargeEmbedding(into: &record)
        if plan.request.isStream {
            return try replayStream(entry, outputs: outputs, endpoint: plan.request.endpoint, debug: debug, extraFields: body["extra_fields"] ?? .null)
        }
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
            return try GenerationRequestParser.parse(try await BodyReader.collect(request, limit: limits.maxJSONBytes, minRate: limits.minBodyBytesPerSecond), limits: limits)
        case .edits:
            return try await EditRequestParser.parse(request, limits: limits)
        }
    }

    /// Resolves the model and each fallback for this key, validates the request against each,
    /// and settles the response format.
    func makePlan(_ parsed: ImageRequest, key: VirtualKey) throws -> Plan {
        var request = parsed
        if let prompt = request.prompt, prompt.utf8.count > limits.maxPromptBytes {
            throw AfterimageError.invalidPayload(
                "'prompt' is \(prompt.utf8.count) bytes (\(prompt.unicodeScalars.count) Unicode scalars); at most \(limits.maxPromptBytes) bytes are accepted.",
                param: "prompt"
            )
        }
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
        let preferB64JSON = limits.preferB64JSON
        let forwarded = request
        let targets = try models.map { model in
            let provider = try router.endpoint(for: model)
            return UpstreamTarget(model: model, provider: provider) {
                try UpstreamCallBuilder.call(for: forwarded, model: model, provider: provider, preferB64JSON: preferB64JSON)
            }
        }
        return Plan(request: request, targets: targets)
    }
}
