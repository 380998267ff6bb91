import AfterimageCore
import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Delivers an alert to one webhook: a POST of its body (JSON or Slack), signed with
/// HMAC-SHA256 over the body (`X-Afterimage-Signature: sha256=<hex>`) when the webhook has a
/// secret, retried with doubling backoff until a 2xx or `max_attempts`.
public struct WebhookSender: Sendable {
    let client: HTTPClient
    let logger: Logger

    public init(client: HTTPClient = .shared, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The signature header's value for `body`.
    public static func signature(_ body: Data, secret: String) -> String {
        "sha256=" + Data(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))).hexString
    }

    /// Sends `alert`; returns the number of tries it took, or nil when every try failed (logged).
    @discardableResult
    public func deliver(_ alert: Alert, to webhook: AlertSettings.Webhook) async -> Int? {
        let body = alert.body(format: webhook.format)
        var backoff = Duration.milliseconds(webhook.initialBackoffMs)
        for attempt in 1...max(1, webhook.maxAttempts) {
            if Task.isCancelled { return nil }
            var request = HTTPClientRequest(url: webhook.url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "afterimage-alerts")
            request.headers.add(name: "X-Afterimage-Event", value: alert.event.rawValue)
            request.headers.add(name: "X-Afterimage-Delivery-Attempt", value: String(attempt))
            if let secret = webhook.secret { request.headers.add(name: "X-Afterimage-Signature", value: Self.signature(body, secret: secret)) }
            request.body = .bytes(ByteBuffer(bytes: body))
            var failure: String
            do {
                let response = try await client.execute(request, timeout: .milliseconds(Int64(webhook.timeoutMs)))
                // The answer's body is read (bounded) only to free the connection.
                _ = try? await response.body.collect(upTo: 64 << 10)
                if (200..<300).contains(response.status.code) { return attempt }
                failure = "HTTP \(response.status.code)"
            } catch {
                failure = LogText.bounded(String(describing: error), 300)
            }
            logger.warning("alert webhook delivery failed", metadata: [
                "event": .string(alert.event.rawValue), "attempt": .stringConvertible(attempt),
                "webhook": .string(Self.redacted(webhook.url)), "error": .string(failure),
            ])
            if attempt < webhook.maxAttempts {
                do { try await Task.sleep(for: backoff) } catch { return nil }
                backoff = min(backoff * 2, AlertSettings.Webhook.maxBackoff)
            }
        }
        logger.error("alert given up after every try", metadata: ["event": .string(alert.event.rawValue), "webhook": .string(Self.redacted(webhook.url))])
        return nil
    }

    /// The URL as logged: scheme, host and port only (a webhook URL's path is often its secret).
    static func redacted(_ url: String) -> String {
        guard let parsed = URL(string: url), let host = parsed.host else { return "(invalid URL)" }
        return "\(parsed.scheme ?? "http")://\(host)\(parsed.port.map { ":\($0)" } ?? "")/…"
    }
}
