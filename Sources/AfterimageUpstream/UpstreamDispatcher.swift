import AfterimageCore
import AfterimageTracing
import Foundation
import Tracing

/// One model to try: its capability entry, its provider, and how to build its call. The call
/// (for an edit, a multipart body as large as the upload) is built only when the dispatcher
/// reaches this model and dropped when it moves on, so fallbacks never hold one body each.
public struct UpstreamTarget: Sendable {
    public var model: ModelCapability
    public var provider: ProviderEndpoint
    public var makeCall: @Sendable () throws -> UpstreamCall

    public init(model: ModelCapability, provider: ProviderEndpoint, makeCall: @escaping @Sendable () throws -> UpstreamCall) {
        self.model = model
        self.provider = provider
        self.makeCall = makeCall
    }
}

/// The reply that succeeded and what it took to get it.
public struct DispatchResult: Sendable {
    /// The model that answered (after fallbacks).
    public var target: UpstreamTarget
    public var reply: UpstreamReply
    /// Calls made in all, across models.
    public var attempts: Int
    /// Time spent in upstream calls and waits.
    public var duration: Duration
    /// From the dispatch to the first byte (response head) of the answer that succeeded, retries
    /// and fallbacks included: the row's `upstream_latency_ms`, streamed or not.
    public var timeToFirstByte: Duration
}

/// Sends a request to its model, retrying 429, 5xx and transport failures with backoff,
/// then to each fallback model in order. A client error (4xx other than 429) ends it at once.
/// A model cooling down after failures in a row (`UpstreamCooldown`) is skipped when a later one
/// is not, and gets a single attempt when none is.
public struct UpstreamDispatcher: Sendable {
    let upstream: any ImageUpstream
    let policy: RetryPolicy
    /// An `upstream.attempt` span (kind client) per call, its W3C `traceparent` sent upstream.
    let tracer: RequestTracer
    let cooldown: UpstreamCooldown

    public init(upstream: any ImageUpstream, policy: RetryPolicy, tracer: RequestTracer = .off, cooldown: UpstreamCooldown = .off) {
        self.upstream = upstream
        self.policy = policy
        self.tracer = tracer
        self.cooldown = cooldown
    }

    /// The model's name in the cool-down book: `provider/model`.
    static func health(_ target: UpstreamTarget) -> String { "\(target.provider.name)/\(target.model.id)" }

    enum Failure {
        case status(UpstreamReply)
        case transport(any Error)
    }

    /// Tries `targets` in order; `onRetry` is called before each repeated or fallback attempt and
    /// `onAttempt` after each attempt with its outcome (`ok`, `http_503`, `transport`, …), and
    /// with `cooldown` for a model skipped while it cools down.
    /// With `streaming`, a 2xx reply carries the unread event stream: retries and fallbacks happen
    /// only before the first event.
    public func dispatch(
        _ targets: [UpstreamTarget], streaming: Bool = false, onRetry: @Sendable () -> Void = {},
        onAttempt: @Sendable (String) -> Void = { _ in }
    ) async throws -> DispatchResult {
        let clock = ContinuousClock()
        let started = clock.now
        var attempts = 0
        var lastFailure: Failure?
        var tried = [String]()
        for (index, target) in targets.enumerated() {
            let health = Self.health(target)
            let cooling = cooldown.isCooling(health)
            // Something healthier to try after it: skip it. Nothing: one attempt, not a round.
            let alternative = { targets[(index + 1)...].contains { !self.cooldown.isCooling(Self.health($0)) } }
            if cooling, alternative() {
                onAttempt("cooldown")
                continue
            }
            tried.append(target.model.id)
            let targetStart = clock.now
            let call = try target.makeCall()
            let maxAttempts = cooling ? 1 : max(1, policy.maxAttempts)
            for attempt in 1...maxAttempts {
                if attempts > 0 { onRetry() }
                attempts += 1
                var retryAfter: String?
                do {
                    let reply = try await sendTraced(call, target: target, number: attempts, streaming: streaming)
                    onAttempt((200..<300).contains(reply.status) ? "ok" : "http_\(reply.status)")
                    guard reply.status == 429 || reply.status >= 500 else {
                        // The upstream answered for itself (a success or the client's error).
                        cooldown.succeeded(health)
                        if !(200..<300).contains(reply.status) { throw Self.clientError(reply) }
                        let now = clock.now
                        return DispatchResult(
                            target: target, reply: reply, attempts: attempts, duration: now - started,
                            timeToFirstByte: (reply.receivedAt ?? now) - started
                        )
                    }
                    lastFailure = .status(reply)
                    retryAfter = reply.retryAfter
                } catch let error as AfterimageError {
                    throw error
                } catch is CancellationError {
                    onAttempt("cancelled")
                    throw CancellationError()
                } catch {
                    onAttempt(Self.isTimeout(error) ? "timeout" : "transport")
                    lastFailure = .transport(error)
                }
                // Failing in a row: once it cools down, the next model (if one is healthier) goes next.
                if cooldown.failed(health), alternative() { break }
                if attempt == maxAttempts { break }
                let delay = policy.delay(afterAttempt: attempt, retryAfter: retryAfter)
                if (clock.now - targetStart) + delay > policy.maxTotal { break }
                try await Task.sleep(for: delay)
            }
        }
        throw Self.exhausted(lastFailure, attempts: attempts, models: tried)
    }

    /// One call in its `upstream.attempt` span, carrying the span's `traceparent`.
    func sendTraced(_ call: UpstreamCall, target: UpstreamTarget, number: Int, streaming: Bool) async throws -> UpstreamReply {
        try await tracer.span("upstream.attempt", kind: .client) { span in
            var call = call
            if let span {
                span.attributes["afterimage.attempt"] = number
                span.attributes["afterimage.model"] = target.model.id
                span.attributes["afterimage.provider"] = target.provider.name
                call.traceHeaders = tracer.outgoingHeaders()
            }
            let reply = try await streaming ? upstream.stream(call) : upstream.send(call)
            span?.attributes["http.response.status_code"] = reply.status
            if reply.status >= 400 { span?.setStatus(SpanStatus(code: .error)) }
            return reply
        }
    }

    /// The client-facing error once every attempt and fallback failed.
    static func exhausted(_ failure: Failure?, attempts: Int, models: [String]) -> AfterimageError {
        let tried = "after \(attempts) attempt\(attempts == 1 ? "" : "s") on \(models.joined(separator: ", "))"
        switch failure {
        case .status(let reply) where reply.status == 429:
            return AfterimageError(
                status: 429, code: .rateLimited,
                message: "The upstream provider rate-limited this request \(tried): \(upstreamMessage(reply) ?? "HTTP 429")",
                retryAfterSeconds: reply.retryAfter.flatMap { RetryPolicy.parseRetryAfter($0) }.map { Int($0.rounded(.up)) }  // clamped to a day
            )
        case .status(let reply):
            return .upstreamUnavailable("No healthy upstream \(tried); last answer HTTP \(reply.status): \(upstreamMessage(reply) ?? "no message")")
        case .transport(let error):
            return .upstreamUnavailable("No healthy upstream \(tried); last error: \(describe(error))")
        case nil:
            return .upstreamUnavailable("No upstream was tried.")
        }
    }

    /// A provider's 4xx answer, passed to the client with its status and message.
    static func clientError(_ reply: UpstreamReply) -> AfterimageError {
        let envelope = (try? JSONParser.parse(reply.body.prefix(1 << 20)))?["error"]
        func short(_ value: JSONValue?) -> String? { value?.stringValue.map { String($0.prefix(64)) } }
        return AfterimageError(
            status: (400..<500).contains(reply.status) ? reply.status : 502,
            code: .upstream(short(envelope?["code"])),
            message: upstreamMessage(reply) ?? "The upstream provider answered HTTP \(reply.status).",
            param: short(envelope?["param"]),
            type: short(envelope?["type"])
        )
    }

    /// The longest upstream message passed on to a client.
    static let maxMessageLength = 500

    static func upstreamMessage(_ reply: UpstreamReply) -> String? {
        func bounded(_ text: String) -> String { text.count > maxMessageLength ? String(text.prefix(maxMessageLength)) + "…" : text }
        if let value = try? JSONParser.parse(reply.body.prefix(1 << 20)) {
            if let message = value["error"]?["message"]?.stringValue { return bounded(message) }
            if let message = value["error"]?.stringValue { return bounded(message) }
        }
        let text = String(decoding: reply.body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    static func isTimeout(_ error: any Error) -> Bool {
        let text = String(describing: error).lowercased()
        return text.contains("timeout") || text.contains("timedout") || text.contains("deadline")
    }

    /// A short description of a transport error for messages.
    public static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}
