import Synchronization

/// Base of the signed image URLs: `server.public_base_url`, or `http://HOST:PORT` with the port
/// actually bound (which differs from the configured one when it is 0).
final class PublicBaseURL: Sendable {
    private let storage: Mutex<String>

    init(_ initial: String) {
        storage = Mutex(initial)
    }

    var value: String { storage.withLock { $0 } }

    func set(_ value: String) {
        storage.withLock { $0 = value }
    }
}
