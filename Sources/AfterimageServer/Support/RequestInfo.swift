import AfterimageCore
import Foundation
import Synchronization

/// What a request has learned about itself so far, filled in by the handler and read by the
/// logging/metrics middleware and the error renderer (which only see the context).
public final class RequestInfo: Sendable {
    public struct Values: Sendable {
        public var requestID = "req_" + KeySecret.randomBase62(24)
        public var keyID: String?
        public var endpoint: ImageEndpoint?
        public var modelRequested: String?
        /// Provider of the model that served the request (or would have).
        public var provider: String?
        /// Configured model id that served the request; bounded label for metrics.
        public var modelLabel: String?
        /// `miss`, `direct`, `semantic` or `bypass`.
        public var cacheOutcome = CacheOutcome.bypass
        public var upstreamAttempts = 0
    }

    private let storage = Mutex(Values())

    public init() {}

    public var values: Values { storage.withLock { $0 } }

    public func update(_ change: (inout Values) -> Void) {
        storage.withLock { change(&$0) }
    }

    /// The `extra_fields` attached to error envelopes of image requests.
    public var errorExtraFields: [String: JSONValue] {
        let values = self.values
        guard let endpoint = values.endpoint else { return [:] }
        return [
            "provider": values.provider.map(JSONValue.string) ?? .null,
            "model_requested": values.modelRequested.map(JSONValue.string) ?? .null,
            "request_type": .string(endpoint.requestType),
        ]
    }
}
