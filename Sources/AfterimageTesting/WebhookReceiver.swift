import AfterimageCore
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// A local webhook receiver for tests: `POST /hook` keeps each delivery's headers and body; the
/// first `failFirst` deliveries are answered 500.
public final class WebhookReceiver: Sendable {
    public struct Delivery: Sendable {
        public var headers: [String: String]
        public var body: Data
        public var json: JSONValue { (try? JSONParser.parse(body)) ?? .null }
    }

    private let deliveries = Mutex<[Delivery]>([])
    private let failures = Mutex(0)
    private let server = LocalServer()

    /// Answers the first `failFirst` deliveries with HTTP 500.
    public init(failFirst: Int = 0) {
        failures.withLock { $0 = failFirst }
    }

    public var url: String { "http://127.0.0.1:\(server.port)/hook" }
    /// Deliveries answered 2xx, in order.
    public var received: [Delivery] { deliveries.withLock { $0 } }

    public func start() async throws {
        let router = Router()
        router.post("hook") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            let fail = self.failures.withLock { remaining -> Bool in
                guard remaining > 0 else { return false }
                remaining -= 1
                return true
            }
            if fail { return Response(status: .internalServerError) }
            var headers = [String: String]()
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            self.deliveries.withLock { $0.append(Delivery(headers: headers, body: Data(buffer: body))) }
            return Response(status: .noContent)
        }
        await server.start(router, label: "webhook-receiver")
    }

    public func stop() async {
        await server.stop()
    }

    /// Runs `body` with a started receiver, stopped afterwards whatever `body` throws.
    public static func with<T>(failFirst: Int = 0, _ body: (WebhookReceiver) async throws -> T) async throws -> T {
        let receiver = WebhookReceiver(failFirst: failFirst)
        try await receiver.start()
        do {
            let result = try await body(receiver)
            await receiver.stop()
            return result
        } catch {
            await receiver.stop()
            throw error
        }
    }

    /// Waits (up to `timeout`) until at least `count` deliveries arrived; returns them.
    public func wait(for count: Int, timeout: Duration = .seconds(15)) async throws -> [Delivery] {
        let deadline = ContinuousClock.now + timeout
        while received.count < count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        return received
    }
}
