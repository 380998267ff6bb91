import Synchronization

/// A thread-safe memo of at most `capacity` values: when full it starts over (no recency
/// bookkeeping on the hot path; a flood of new keys cannot grow memory).
public final class BoundedMemo<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    public let capacity: Int
    private let values = Mutex<[Key: Value]>([:])

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// The remembered value, or `make()`'s (remembered for next time).
    public func value(_ key: Key, _ make: () throws -> Value) rethrows -> Value {
        if let known = values.withLock({ $0[key] }) { return known }
        let made = try make()
        values.withLock { values in
            if values.count >= capacity { values.removeAll(keepingCapacity: true) }
            values[key] = made
        }
        return made
    }

    /// The remembered value of `key`, if any.
    public func get(_ key: Key) -> Value? {
        values.withLock { $0[key] }
    }

    /// Remembers `value` for `key` (starting over when full).
    public func put(_ key: Key, _ value: Value) {
        values.withLock { values in
            if values.count >= capacity, values[key] == nil { values.removeAll(keepingCapacity: true) }
            values[key] = value
        }
    }

    public var count: Int { values.withLock { $0.count } }
}
