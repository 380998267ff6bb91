import AfterimageCore
import Foundation
import Logging
import Synchronization

/// Where metering reports what it counted (the server's Prometheus metrics).
public protocol MeteringMetrics: Sendable {
    /// A request's tokens by kind, its cost (nil when unpriced) and what a hit saved.
    func recordUsage(namespace: String?, model: String?, tokens: [(kind: String, count: Int)], costUSD: Double?, savedUSD: Double)
    /// A request whose model (or one of its token kinds, sizes or qualities) has no price.
    func recordUnpriced(model: String)
}

/// The metering policy of a request: per-minute limits, budget reservations at the worst case,
/// what a request consumed and cost, and the ledger row committed before the response goes out.
public final class Meter: Sendable {
    public let pricing: PricingSource
    public let ledger: any UsageLedger
    public let limits: any SpendLimiter
    let namespaces: any NamespaceLimitStore
    /// The embedder's model name, priced under `embeddings` when it is a paid remote one.
    let embeddingModel: String?
    let metrics: any MeteringMetrics
    public let logger: Logger
    private let warned = Mutex<Set<String>>([])

    public init(
        pricing: PricingSource, ledger: any UsageLedger, namespaces: any NamespaceLimitStore, embeddingModel: String?, metrics: any MeteringMetrics,
        logger: Logger, limits: (any SpendLimiter)? = nil
    ) {
        self.pricing = pricing
        self.ledger = ledger
        self.limits = limits ?? LimitEnforcer(ledger: ledger)
        self.namespaces = namespaces
        self.embeddingModel = embeddingModel
        self.metrics = metrics
        self.logger = logger
    }

    public typealias Scopes = [(LimitScope, SpendLimits)]

    /// The key's and its namespace's limits, read fresh (the CLI may change them while we run).
    public func scopes(for key: VirtualKey) async throws -> Scopes {
        [(.key(id: key.id, name: key.name), key.limits), (.namespace(key.namespace), try await namespaces.limits(namespace: key.namespace))]
    }

    /// Per-minute request and image limits; hits count too. `countsRequest` checks and counts
    /// the request itself (done once, right after auth); images are counted once they are known.
    public func admit(_ scopes: Scopes, imageCount: Int, countsRequest: Bool) async throws {
        try await limits.admit(scopes, imageCount: imageCount, countsRequest: countsRequest, now: Date())
    }

    /// Holds the most the request can cost (over its model and every fallback) against the budgets.
    public func reserve(_ scopes: Scopes, request: ImageRequest, models: [ModelCapability]) async throws -> BudgetReservation {
        let table = pricing.current()
        var worst = Money.zero
        for model in models {
            if let cost = worstCase(request, model: model, table: table), worst < cost { worst = cost }
        }
        return try await limits.reserve(scopes, worstCase: worst, now: Date())
    }

    /// The most `request` can cost on `model` (nil when the model has no price).
    public func worstCase(_ request: ImageRequest, model: ModelCapability, table: PriceTable) -> Money? {
        guard let price = table.price(provider: model.provider, model: model.id) else { return nil }
        if price.billsPerImage {
            let size = request.fields["size"]?.stringValue ?? "1024x1024"
            let qualities = request.fields["quality"]?.stringValue.map { [$0] } ?? Array(price.perImage.keys)
            return qualities.compactMap { price.cost(images: request.imageCount, size: size, quality: $0) }.max()
        }
        var usage = UsageEstimator.worstCase(request: request)
        if let quality = request.fields["quality"]?.stringValue, quality != "auto",
           let size = request.fields["size"]?.stringValue, size != "auto" {
            let partials = Int(request.fields["partial_images"]?.integerValue ?? 0)
            usage.imageOutput = request.imageCount * (UsageEstimator.imageOutputTokens(size: size, quality: quality) + partials * UsageEstimator.partialImageTokens)
        }
        return price.charge(of: usage).map { min($0.cost, Money.requestCeiling) }
    }

    public func settle(_ reservation: BudgetReservation?, actual: Money?) async {
        if let reservation { await limits.settle(reservation, actual: actual) }
    }

    /// What a miss consumed and cost: the upstream's `usage` when present, else an estimate.
    public func charge(
        _ request: ImageRequest, model: ModelCapability, upstream top: [String: JSONValue], images: Int, partialImages: Int = 0,
        into record: inout UsageRecord
    ) {
        let table = pricing.current()
        // The upstream's own strings are bounded before they reach a row.
        let size = (top["size"]?.stringValue ?? request.fields["size"]?.stringValue).map { LogText.prefix($0, maxBytes: 64) }
        let quality = (top["quality"]?.stringValue ?? request.fields["quality"]?.stringValue).map { LogText.prefix($0, maxBytes: 64) }
        record.size = size
        record.quality = quality
        record.priceVersion = table.version
        let price = table.price(provider: model.provider, model: model.id)
        var usage: TokenUsage
        if let reported = TokenUsage(upstream: top["usage"]) {
            usage = reported
            if reported.source == .invalid {
                // Nonsense counts are not believed: the request is charged the worst case.
                usage = UsageEstimator.worstCase(request: request)
                usage.source = .invalid
                logger.warning("upstream usage is invalid; charged the worst-case estimate", metadata: ["request_id": "\(record.requestID)", "model": "\(model.id)"])
            }
        } else if price?.billsPerImage == true {
            usage = TokenUsage(source: .upstream)
        } else {
            usage = UsageEstimator.estimate(request: request, images: images, size: size, quality: quality, partialImages: partialImages)
        }
        record.setTokens(usage)
        record.costEstimated = usage.source == .invalid
        guard let price else {
            unpriced(model.id)
            record.cost = nil
            return
        }
        if price.billsPerImage {
            if let cost = price.cost(images: images, size: size ?? "1024x1024", quality: quality) {
                record.cost = cost
            } else {
                // A size or quality the file does not list: the dearest listed image price.
                record.cost = price.worstImagePrice.map { $0 * images }
                record.costEstimated = true
                unpriced("\(model.id) (\(size ?? "?"), \(quality ?? "standard"))")
            }
        } else if let charged = price.charge(of: usage) {
            record.cost = charged.cost
            if charged.estimated {
                record.costEstimated = true
                unpriced("\(model.id) (a token kind)")
            }
        } else {
            record.cost = nil
            unpriced(model.id)
        }
        if let cost = record.cost, Money.requestCeiling < cost {
            // Only nonsense gets here (the counts were each plausible, their price is not).
            record.cost = Money.requestCeiling
            record.usageSource = TokenUsage.Source.invalid.rawValue
            record.costEstimated = true
        }
    }

    /// The charge of a request that failed after the upstream answered: what the upstream's
    /// `usage` says when it sent one, else the worst case (the call was made and may be billed).
    public func chargeFailure(_ request: ImageRequest, model: ModelCapability, upstream top: [String: JSONValue], into record: inout UsageRecord) {
        if TokenUsage(upstream: top["usage"]) != nil {
            charge(request, model: model, upstream: top, images: request.imageCount, into: &record)
            return
        }
        let table = pricing.current()
        record.priceVersion = table.version
        record.setTokens(UsageEstimator.worstCase(request: request))
        record.cost = worstCase(request, model: model, table: table)
        record.costEstimated = true
    }

    /// Adds what the lookup's embedding cost, when the embedder is a priced remote model.
    public func chargeEmbedding(into record: inout UsageRecord) {
        guard record.embeddingTokens > 0, let embeddingModel,
              let price = pricing.current().embeddings[embeddingModel]?.textInput else { return }
        if let current = record.cost { record.cost = current + price * record.embeddingTokens }
    }

    /// Closes a request's accounts: commits its ledger row (the response waits for it), settles
    /// its budget reservation to the real cost and adds it to the metrics. Returns why the row could
    /// not be written (logged), or nil once it is committed.
    public func close(_ record: UsageRecord, reservation: BudgetReservation?) async -> (any Error)? {
        var failure: (any Error)?
        do {
            try await ledger.record(record)
        } catch {
            logger.error("usage ledger write failed", metadata: ["request_id": "\(record.requestID)", "error": "\(error)"])
            failure = error
        }
        await settle(reservation, actual: record.cost)
        count(record)
        return failure
    }

    /// Closes the accounts of a request whose ledger row is already committed (with its cache
    /// entry, `CacheStore.insert(_:ledgerRow:)`): settles the reservation and adds it to the metrics.
    public func closeCommitted(_ record: UsageRecord, reservation: BudgetReservation?) async {
        await settle(reservation, actual: record.cost)
        count(record)
    }

    /// Adds the row's tokens, spend and savings to the metrics.
    public func count(_ record: UsageRecord) {
        metrics.recordUsage(
            namespace: record.namespace, model: record.modelUsed,
            tokens: [("text_input", record.textInputTokens), ("image_input", record.imageInputTokens),
                     ("image_output", record.imageOutputTokens), ("text_output", record.textOutputTokens)],
            costUSD: record.cost.map { Double($0.nanos) / 1e9 }, savedUSD: Double(record.saved.nanos) / 1e9
        )
    }

    private func unpriced(_ model: String) {
        metrics.recordUnpriced(model: model)
        let first = warned.withLock { $0.insert(model).inserted }
        if first { logger.warning("no price for model; its usage rows have a null cost", metadata: ["model": "\(model)"]) }
    }
}

extension UsageRecord {
    /// Sets the token counts and their source.
    public mutating func setTokens(_ usage: TokenUsage) {
        textInputTokens = usage.textInput
        cachedTextInputTokens = usage.cachedTextInput
        imageInputTokens = usage.imageInput
        cachedImageInputTokens = usage.cachedImageInput
        imageOutputTokens = usage.imageOutput
        textOutputTokens = usage.textOutput
        usageSource = usage.source.rawValue
    }

    /// Takes the usage, cost and price version `Meter.charge` worked out for a miss (the shared
    /// single-flight result is charged once, then applied to each waiting request's row).
    public mutating func apply(_ charge: UsageRecord) {
        size = charge.size ?? size
        quality = charge.quality ?? quality
        textInputTokens = charge.textInputTokens
        cachedTextInputTokens = charge.cachedTextInputTokens
        imageInputTokens = charge.imageInputTokens
        cachedImageInputTokens = charge.cachedImageInputTokens
        imageOutputTokens = charge.imageOutputTokens
        textOutputTokens = charge.textOutputTokens
        usageSource = charge.usageSource
        cost = charge.cost
        costEstimated = charge.costEstimated
        priceVersion = charge.priceVersion
    }
}
