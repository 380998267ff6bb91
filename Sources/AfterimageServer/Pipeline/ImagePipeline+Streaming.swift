import AfterimageCache
import AfterimageCore
import AfterimageMetering
import AfterimageUpstream
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// `stream=true`: Server-Sent Events as the OpenAI API sends them.
///
/// - A miss forwards each partial-image event the moment it arrives (read one upstream chunk, write
///   it, then read the next: a slow client slows the upstream instead of growing a buffer). The
///   completed events are held back until their images, the cache entry and the ledger row are
///   committed, then sent with `extra_fields` in the last one — a stream that reports success
///   always has its row.
/// - A client that disconnects: when the answer can be cached the upstream call is finished and
///   stored (it is paid for either way); otherwise it is cancelled. The ledger row (status 499,
///   `client_disconnected`) records the usage the upstream reported, or the partial images'
///   estimate.
/// - An upstream `error` event or a broken stream becomes an `error` event in the OpenAI shape and
///   a ledger row with the error.
extension ImagePipeline {
    static func eventPrefix(_ endpoint: ImageEndpoint) -> String { endpoint == .generations ? "image_generation" : "image_edit" }

    static let sseHeaders: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]

    /// A hit replayed as SSE: one completed event per stored image, `usage` zeros, `cache_debug`
    /// in the last one. No partial images are invented.
    func replayStream(
        _ entry: CacheEntry, outputs: [ImageResponseAssembler.Output], endpoint: ImageEndpoint, debug: CacheDebug, extraFields: JSONValue
    ) throws -> Response {
        let prefix = Self.eventPrefix(endpoint)
        var bytes = Data()
        let usage = entry.response["usage"]?.zeroed ?? ["input_tokens": 0, "output_tokens": 0, "total_tokens": 0, "input_tokens_details": ["text_tokens": 0, "image_tokens": 0]]
        for (index, output) in outputs.enumerated() {
            var data: [String: JSONValue] = [
                "type": .string("\(prefix).completed"), "b64_json": .string(output.data.base64EncodedString()),
                "created_at": .integer(Int64(Date().timeIntervalSince1970)), "usage": usage,
            ]
            for field in ["size", "quality", "background", "output_format"] { data[field] = entry.response[field] ?? output.extra[field] }
            if index == outputs.count - 1 { data["extra_fields"] = extraFields }
            bytes.append(ServerSentEvent.encode(event: "\(prefix).completed", data: JSONWriter.data(JSONValue.object(data))))
        }
        var headers = Self.sseHeaders
        headers.append(contentsOf: debug.headers)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(data: bytes)))
    }

    /// A streamed miss. Retries and fallbacks happen before the first event (failures there are
    /// ordinary JSON errors); from then on the response is SSE and this writes the ledger row.
    func streamMiss(
        _ plan: Plan, lookup: CacheLookup, record: UsageRecord, reservation: BudgetReservation?,
        started: ContinuousClock.Instant, context: AfterimageRequestContext, attempts: AttemptLog, scopes: Meter.Scopes
    ) async throws -> Response {
        let embedding = startStoreEmbedding(lookup)
        let result: DispatchResult
        do {
            result = try await dispatcher.dispatch(plan.targets, streaming: true, onRetry: { metrics.recordRetry() }, onAttempt: attemptRecorder(attempts))
        } catch {
            embedding?.cancel()
            throw error
        }
        guard let upstream = result.reply.stream else {
            embedding?.cancel()
            throw AfterimageError.upstreamUnavailable("The upstream did not stream.")
        }
        context.info.update {
            $0.provider = result.target.model.provider
            $0.upstreamAttempts = result.attempts
        }
        let keepReading = lookup.shouldStore
        let finish = { @Sendable (capture: StreamCapture, clientGone: Bool) async -> Data in
            var record = record
            record.attempts = attempts.outcomes
            return await finishStream(
                capture, clientGone: clientGone, plan: plan, lookup: lookup, result: result, embedding: embedding, record: record,
                reservation: reservation, started: started, scopes: scopes
            )
        }
        // Exactly one of the body writer and the watchdog consumes the stream. If the client left
        // before the response head went out, the body writer never runs: the watchdog then reads
        // (or cancels) the upstream and writes the ledger row, so nothing is lost or left reserved.
        let claim = StreamClaim()
        let capture = makeCapture(plan)
        watchdog.watch(claim) {
            let (captured, _) = await Self.pump(upstream, capture: capture, keepReading: keepReading) { _ in false }
            _ = await finish(captured, true)
        }
        let body = ResponseBody { writer in
            guard claim.take() else { return }
            let (capture, clientGone) = await Self.pump(upstream, capture: makeCapture(plan), keepReading: keepReading) { bytes in
                (try? await writer.write(ByteBuffer(data: bytes))) != nil
            }
            let closing = await finish(capture, clientGone)
            if !clientGone, !closing.isEmpty { try? await writer.write(ByteBuffer(data: closing)) }
            try? await writer.finish(nil)
        }
        var headers = Self.sseHeaders
        headers.append(contentsOf: lookup.debug.headers)
        return Response(status: .ok, headers: headers, body: body)
    }

    /// A fresh capture for this request's stream, bounded by `streaming.max_capture_bytes` and `n`.
    func makeCapture(_ plan: Plan) -> StreamCapture {
        StreamCapture(endpoint: plan.request.endpoint, maxCaptureBytes: maxCaptureBytes, expectedImages: plan.request.imageCount)
    }

    /// Reads the upstream event by event, forwarding what `StreamCapture` lets through with `send`
    /// (which answers false once the client is gone). After a disconnect it keeps reading only when
    /// `keepReading` (the answer will be cached); otherwise it cancels the upstream.
    static func pump(
        _ upstream: any UpstreamByteStream, capture start: StreamCapture, keepReading: Bool, send: (Data) async -> Bool
    ) async -> (StreamCapture, clientGone: Bool) {
        var capture = start
        var clientGone = false
        do {
            while let chunk = try await upstream.next() {
                for event in try capture.parser.feed(chunk) {
                    guard let forward = capture.take(event), !clientGone else { continue }
                    clientGone = !(await send(forward))
                    if clientGone && !keepReading {
                        upstream.cancel()
                        return (capture, true)
                    }
                }
            }
            if let last = capture.parser.finish(), let forward = capture.take(last), !clientGone {
                clientGone = !(await send(forward))
            }
        } catch {
            capture.failure = capture.failure ?? .upstreamUnavailable("The upstream stream broke: \(UpstreamDispatcher.describe(error))")
        }
        return (capture, clientGone)
    }

    /// Settles a finished stream through the one miss sequence (`settleMiss`), meters and commits
    /// it; returns the events still to send (the held-back completed events, or an error event).
    func finishStream(
        _ capture: StreamCapture, clientGone: Bool, plan: Plan, lookup: CacheLookup, result: DispatchResult, embedding: StoreEmbedding,
        record base: UsageRecord, reservation: BudgetReservation?, started: ContinuousClock.Instant, scopes: Meter.Scopes
    ) async -> Data {
        let target = result.target
        var record = base
        var failure = capture.failure
        if failure == nil, capture.completed.isEmpty, !clientGone {
            failure = .upstreamUnavailable("The upstream stream ended without a completed image.")
        }
        var closing = Data()
        (record.provider, record.modelUsed) = (target.model.provider, target.model.id)
        record.upstreamLatencyMs = RequestLogMiddleware.milliseconds(result.timeToFirstByte)
        var paidFor = false
        if failure == nil, !capture.completed.isEmpty {
            do {
                let miss = try await settleMiss(plan, lookup: lookup, result: result, answer: .object(capture.answer), partialImages: capture.partials, embedding: embedding)
                record.apply(miss: miss)
                meter.chargeEmbedding(into: &record)
                var debug = lookup.debug
                debug.entryID = miss.entry?.id
                let extra = extraFields(
                    endpoint: plan.request.endpoint, provider: target.model.provider, requested: plan.request.model, deployment: target.model.id,
                    since: started, debug: debug, attempts: result.attempts
                )
                closing = try capture.completedEvents(extraFields: extra)
            } catch let paid as PaidFailure {
                // The upstream finished (and may bill): charged what it reported, else the worst case.
                record.apply(paid: paid)
                paidFor = true
                failure = paid.error
            } catch {
                failure = AfterimageError.from(error)
            }
        } else {
            embedding?.cancel()
        }
        if let failure {
            record.status = failure.statusCode
            record.errorCode = failure.code.rawValue
            closing = capture.errorEvent(failure)
        } else if clientGone {
            record.status = 499
            record.errorCode = "client_disconnected"
        }
        if record.images == 0, !paidFor {
            // Failed or cancelled before completion: what the upstream produced, the partial images' estimate.
            meter.charge(plan.request, model: target.model, upstream: [:], images: 0, partialImages: capture.partials, into: &record)
        }
        record.latencyMs = RequestLogMiddleware.milliseconds(ContinuousClock.now - started)
        if let failure = await meter.close(record, reservation: reservation) {
            closing = capture.errorEvent(Self.withheld(failure))
        }
        // A streamed answer spends like any other: its scopes' budgets are checked for alerts.
        if (record.cost ?? .zero) > .zero { alerts.spentMoney(scopes) }
        metrics.recordUpstream(model: target.model.id, duration: ContinuousClock.now - started)
        return closing
    }
}
