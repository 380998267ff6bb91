/// The database cannot be reached or did not answer in time. Clients get 503
/// `storage_unavailable` (never a success that is not recorded); startup refuses to begin.
public struct StorageUnavailable: Error, CustomStringConvertible, Sendable {
    /// What failed, for the log (never holds a password).
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { reason }

    /// The client's view.
    public var clientError: AfterimageError {
        var error = AfterimageError(
            status: 503, code: .storageUnavailable,
            message: "The gateway's database is unavailable; nothing was served or charged. Retry shortly.", retryAfterSeconds: 2
        )
        error.detail = LogText.bounded(reason, 500)
        return error
    }
}
