import Synchronization

/// A flag one task sets and another polls (a test's "has it happened yet?").
public final class TestFlag: Sendable {
    private let state = Atomic<Bool>(false)

    public init() {}

    public func set() { state.store(true, ordering: .sequentiallyConsistent) }

    public var isSet: Bool { state.load(ordering: .sequentiallyConsistent) }
}
