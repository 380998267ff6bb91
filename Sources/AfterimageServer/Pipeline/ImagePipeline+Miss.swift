import AfterimageCache
import AfterimageCore
import AfterimageMetering
import AfterimageUpstream
import Foundation

/// The one miss sequence, streamed or not: the store embedding runs alongside the upstream call;
/// once the answer is in, its images are stored, its usage charged, the embedding taken and the
/// cache entry stored (`settleMiss`); the ledger row takes it all through `UsageRecord.apply(miss:)`.
extension ImagePipeline {
    /// What a miss produced: the upstream answer, its stored images, its usage and cost, and
    /// (unless `no-store`) the cache entry.
    struct MissResult: Sendable {
        var target: UpstreamTarget
        var top: [String: JSONValue]
        var outputs: [ImageResponseAssembler.Output]
        var attempts: Int
        /// All upstream calls and waits, to the end of the answer (the upstream duration metric).
        var upstreamDuration: Duration
        /// Dispatch to the first byte of the answer (`upstream_latency_ms`).
        var timeToFirstByte: Duration
        var charge: UsageRecord
        var embeddingTokens = 0
        var entry: CacheEntry?
        /// The request's ledger row when it was committed in the cache entry's transaction
        /// (`LedgerDraft`); nil when it is still to be committed.
        var committedRow: UsageRecord?
    }

    /// The ledger row of the request making the upstream call, as far as the pipeline has filled
    /// it: once the answer is in, `settleMiss` completes it and the cache entry's transaction
    /// commits it — one commit for the answer and its row instead of two in a row.
    struct LedgerDraft: Sendable {
        var record: UsageRecord
        var started: ContinuousClock.Instant
        var attempts: AttemptLog
    }

    /// A request that failed after the upstream answered: what it must be charged, and the error.
    struct PaidFailure: Error {
        var error: AfterimageError
        var model: ModelCapability
        var charge: UsageRecord
    }

    /// The upstream's answer as it arrived: a JSON body, or the answer a stream assembled.
    enum MissAnswer {
        case body(Data)
        case object([String: JSONValue])
    }

    /// The store embedding (when the lookup computed none), started before the upstream call so
    /// both run at once; nil when none is needed (no task, no thread hop).
    typealias StoreEmbedding = Task<(vector: [Float], tokens: Int)?, Never>?

    func startStoreEmbedding(_ lookup: CacheLookup) -> StoreEmbedding {
        guard lookup.needsStoreEmbedding else { return nil }
        return Task { await lookup.embeddingForStore() }
    }

    /// A non-streamed miss: the upstream call (retries, fallbacks), then `settleMiss`.
    func forward(_ plan: Plan, lookup: CacheLookup, attempts: AttemptLog, ledger: LedgerDraft? = nil) async throws -> MissResult {
        let embedding = startStoreEmbedding(lookup)
        let result: DispatchResult
        do {
            result = try await dispatcher.dispatch(plan.targets, onRetry: { metrics.recordRetry() }, onAttempt: attemptRecorder(attempts))
        } catch {
            embedding?.cancel()
            throw error
        }
        return try await settleMiss(
            plan, lookup: lookup, result: result, answer: .body(result.reply.body), partialImages: 0, embedding: embedding, ledger: ledger
        )
    }

    /// Once the upstream has answered: store the images, charge what the upstream reported (else
    /// an estimate), take the store embedding, store the cache entry (with `ledger`'s row, when
    /// given). A failure after the answer is a `PaidFailure` with its charge (the upstream may
    /// bill for the call).
    func settleMiss(
        _ plan: Plan, lookup: CacheLookup, result: DispatchResult, answer: MissAnswer, partialImages: Int, embedding: StoreEmbedding,
        ledger: LedgerDraft? = nil
    ) async throws -> MissResult {
        try await tracer.span("store") { span in
            let miss = try await storeAnswer(
                plan, lookup: lookup, result: result, answer: answer, partialImages: partialImages, embedding: embedding, ledger: ledger
            )
            // No `ledger.commit` span follows: the row was committed here.
            if miss.committedRow != nil { span?.attributes["afterimage.ledger_row"] = "committed" }
            return miss
        }
    }

    /// The images, the charge and the cache entry of an answered miss (`settleMiss`'s work, in its span).
    func storeAnswer(
        _ plan: Plan, lookup: CacheLookup, result: DispatchResult, answer: MissAnswer, partialImages: Int, embedding: StoreEmbedding,
        ledger: LedgerDraft?
    ) async throws -> MissResult {
        let target = result.target
        let top: [String: JSONValue]
        let outputs: [ImageResponseAssembler.Output]
        // New images' records go into the transaction of the cache entry when one is stored, else
        // into the ledger row's (`UsageRecord.pendingImageRecords`).
        let deferRecords = true
        // Images no one will read back (no cache entry, a `b64_json` answer) are never written:
        // `no-store` means what it says, and the answer skips a file and directory fsync.
        let persist = (cache != nil && lookup.shouldStore) || plan.request.responseFormat == .url
        do {
            switch answer {
            case .body(let data):
                (top, outputs) = try await assembler.store(
                    upstreamBody: data, provider: target.provider, expected: plan.request.imageCount, deferRecords: deferRecords, persist: persist
                )
            case .object(let object):
                (top, outputs) = try await assembler.store(
                    object: object, provider: target.provider, expected: plan.request.imageCount, deferRecords: deferRecords, persist: persist
                )
            }
        } catch {
            let reported: [String: JSONValue] = switch answer {
            case .body(let data): (try? JSONParser.parse(data))?.objectValue ?? [:]
            case .object(let object): object
            }
            var charge = UsageRecord(requestID: "", createdAt: Date(), endpoint: plan.request.endpoint)
            meter.chargeFailure(plan.request, model: target.model, upstream: reported, into: &charge)
            embedding?.cancel()
            throw PaidFailure(error: AfterimageError.from(error), model: target.model, charge: charge)
        }
        var charge = UsageRecord(requestID: "", createdAt: Date(), endpoint: plan.request.endpoint)
        meter.charge(plan.request, model: target.model, upstream: top, images: outputs.count, partialImages: partialImages, into: &charge)
        let computed = await embedding?.value ?? nil
        var miss = MissResult(
            target: target, top: top, outputs: outputs, attempts: result.attempts, upstreamDuration: result.duration,
            timeToFirstByte: result.timeToFirstByte, charge: charge, embeddingTokens: computed?.tokens ?? 0
        )
        let row = ledger.map { finishedRow($0, miss: miss) }
        miss.entry = await storeEntry(
            plan, lookup: lookup, target: target, top: top, outputs: outputs, vector: lookup.embedding ?? computed?.vector, cost: charge.cost,
            ledgerRow: row
        )
        if var row, let id = miss.entry?.id {
            row.cacheEntryID = id
            miss.committedRow = row
        }
        return miss
    }

    /// Notes each upstream attempt's outcome in the request's log (and counts cool-down skips).
    func attemptRecorder(_ attempts: AttemptLog) -> @Sendable (String) -> Void {
        let metrics = metrics
        return { outcome in
            attempts.append(outcome)
            if outcome == "cooldown" { metrics.recordCooldownSkip() }
        }
    }

    /// The ledger row of a successful miss, complete before its cache entry is stored: the model,
    /// images and charge of the answer, the store embedding's cost, the attempts and the latency
    /// so far (the response is built right after the commit).
    func finishedRow(_ draft: LedgerDraft, miss: MissResult) -> UsageRecord {
        var row = draft.record
        meterMiss(miss, into: &row)
        // The cache entry's transaction records the new images (and takes the row).
        row.pendingImageRecords = []
        row.attempts = draft.attempts.outcomes
        row.latencyMs = RequestLogMiddleware.milliseconds(ContinuousClock.now - draft.started)
        return row
    }

    /// Step 8, what a miss consumed and cost: the upstream's `usage` (else an estimate) and the
    /// store embedding's price.
    func meterMiss(_ miss: MissResult, into row: inout UsageRecord) {
        row.apply(miss: miss)
        meter.chargeEmbedding(into: &row)
    }

    /// Stores a miss's answer in the cache (unless `no-store` or caching is off). A failure here
    /// is logged and the answer still served: the upstream call is paid for and the images are kept.
    func storeEntry(
        _ plan: Plan, lookup: CacheLookup, target: UpstreamTarget, top: [String: JSONValue],
        outputs: [ImageResponseAssembler.Output], vector: [Float]?, cost: Money?, ledgerRow: UsageRecord?
    ) async -> CacheEntry? {
        guard let cache, lookup.shouldStore else { return nil }
        let now = Date()
        do {
            return try await cache.store(CacheEntry(
                namespace: lookup.namespace, partitionKey: lookup.partitionKey, directKey: lookup.directKey,
                prompt: lookup.prompt, normalizedPrompt: lookup.normalizedPrompt,
                embedding: vector, embeddingModel: vector == nil ? nil : cache.embedder.modelID,
                endpoint: plan.request.endpoint, provider: target.model.provider, model: target.model.id,
                response: top, images: outputs.map(\.image), imageExtras: outputs.map(\.extra),
                createdAt: now, expiresAt: now.addingTimeInterval(TimeInterval(lookup.ttlSeconds)), cost: cost
            ), ledgerRow: ledgerRow)
        } catch {
            meter.logger.error("cache store failed; the answer is served uncached", metadata: ["error": "\(error)"])
            return nil
        }
    }
}

extension UsageRecord {
    /// The ledger row of a miss: its model, images, charge, time to first byte, store embedding
    /// and cache entry (streamed or not).
    mutating func apply(miss: ImagePipeline.MissResult) {
        apply(miss.charge)
        (provider, modelUsed) = (miss.target.model.provider, miss.target.model.id)
        images = miss.outputs.count
        upstreamLatencyMs = RequestLogMiddleware.milliseconds(miss.timeToFirstByte)
        embeddingTokens += miss.embeddingTokens
        cacheEntryID = miss.entry?.id
        // No entry took the new images' records: they ride with this row (committed before the
        // answer hands out their URLs).
        pendingImageRecords = miss.entry == nil ? miss.outputs.filter(\.recordPending).map(\.image) : []
    }

    /// The ledger row of a request that failed after the upstream answered.
    mutating func apply(paid: ImagePipeline.PaidFailure) {
        apply(paid.charge)
        (provider, modelUsed) = (paid.model.provider, paid.model.id)
    }
}
