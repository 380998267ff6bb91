import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// A Hummingbird server on 127.0.0.1, port 0, for the test doubles (stub upstream, OTLP and
/// webhook receivers): started with a router, stopped gracefully.
public final class LocalServer: Sendable {
    private let running = Mutex<(task: Task<Void, any Error>, group: ServiceGroup)?>(nil)
    private let portBox = Mutex(0)

    public init() {}

    /// The bound port (0 before `start`).
    public var port: Int { portBox.withLock { $0 } }

    /// Starts serving `router`; returns once the port is bound.
    public func start(_ router: Router<BasicRequestContext>, label: String) async {
        var logger = Logger(label: label)
        logger.logLevel = .warning
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task { try await group.run() }
        running.withLock { $0 = (task, group) }
        for await port in stream {
            portBox.withLock { $0 = port }
            break
        }
    }

    /// Stops the server gracefully (nothing when it never started).
    public func stop() async {
        guard let (task, group) = running.withLock({ $0 }) else { return }
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
