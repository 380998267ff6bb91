import Hummingbird

/// The request context of every route: Hummingbird's core storage plus `RequestInfo`.
public struct AfterimageRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Facts about the request, shared with middleware.
    public let info: RequestInfo

    /// The peer's IP address (`unknown` when the channel has none), for per-address limits.
    public let clientAddress: String

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.info = RequestInfo()
        self.clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}
