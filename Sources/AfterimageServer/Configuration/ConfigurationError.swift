/// A configuration problem, described in one line naming the key.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    /// Dotted path of the key, e.g. `upstream.retry.max_attempts` or `models[2].max_n`.
    public let key: String
    public let problem: String

    public init(key: String, problem: String) {
        self.key = key
        self.problem = problem
    }

    public var description: String { "invalid configuration: \(key): \(problem)" }
}
