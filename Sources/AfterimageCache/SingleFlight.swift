/// Collapses concurrent work with the same key into one run: the first caller (the leader) runs
/// the operation, later callers with the key wait for it and receive the same result or error.
public actor SingleFlight<Key: Hashable & Sendable, Value: Sendable> {
    private var running: [Key: Task<Value, any Error>] = [:]

    public init() {}

    /// Runs `operation` unless a run with `key` is in flight; `leader` says which happened.
    public func run(_ key: Key, _ operation: @escaping @Sendable () async throws -> Value) async throws -> (value: Value, leader: Bool) {
        if let existing = running[key] {
            return (try await existing.value, false)
        }
        let task = Task { try await operation() }
        running[key] = task
        defer { running[key] = nil }
        return (try await task.value, true)
    }
}
