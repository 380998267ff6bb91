import Hummingbird

/// The request context of every route: Hummingbird's core storage plus `RequestInfo`.
public struct AfterimageRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Facts about the request, shared with middleware.
    public let info: RequestInfo

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.info = RequestInfo()
    }
}
