import AfterimageCore
import AfterimageMetering
import Foundation
import Logging
import Synchronization
import Testing

/// The metering policy on its own (no server): charges against hand-computed costs, the worst
/// case for nonsense and unpriced usage, and closing a request's accounts.
@Suite struct MeterTests {
    /// A ledger that keeps rows in memory, or refuses them.
    final class MemoryLedger: UsageLedger {
        let rows = Mutex<[UsageRecord]>([])
        let refuses: Bool
        init(refuses: Bool = false) { self.refuses = refuses }
        func record(_ row: UsageRecord) async throws {
            if refuses { throw CocoaError(.fileWriteNoPermission) }
            rows.withLock { $0.append(row) }
        }
        func spent(keyID: String?, namespace: String?, since: Date) async throws -> Money {
            rows.withLock { rows in rows.filter { $0.keyID == keyID }.compactMap(\.cost).reduce(Money.zero, +) }
        }
    }

    struct NoNamespaceLimits: NamespaceLimitStore {
        func limits(namespace: String) async throws -> SpendLimits { SpendLimits() }
        func update(namespace: String, changes: LimitChanges) async throws -> SpendLimits { SpendLimits() }
        func list() async throws -> [(namespace: String, limits: SpendLimits)] { [] }
    }

    final class CountingMetrics: MeteringMetrics {
        let unpriced = Mutex<[String]>([])
        let costs = Mutex<[Double?]>([])
        func recordUsage(namespace: String?, model: String?, tokens: [(kind: String, count: Int)], costUSD: Double?, savedUSD: Double) {
            costs.withLock { $0.append(costUSD) }
        }
        func recordUnpriced(model: String) { unpriced.withLock { $0.append(model) } }
    }

    static let table = try! PricingFile.parse("""
        models:
          gpt-image-1: {text_input: 5.00, cached_text_input: 1.25, image_input: 10.00, image_output: 40.00}
          dall-e-3:
            per_image:
              standard: {1024x1024: 0.04}
              hd: {1024x1024: 0.08}
        """)
    static let gptImage = ModelCapability(id: "gpt-image-1", provider: "openai", sizes: ["1024x1024"], maxN: 4, maxPromptLength: 32000, qualities: ["low", "medium", "high"], acceptsResponseFormat: false, supportsEdits: true)
    static let dalle = ModelCapability(id: "dall-e-3", provider: "openai", sizes: ["1024x1024"], maxN: 1, maxPromptLength: 4000, qualities: ["standard", "hd"], acceptsResponseFormat: true, supportsEdits: false)

    func meter(_ ledger: MemoryLedger = MemoryLedger(), metrics: CountingMetrics = CountingMetrics()) -> Meter {
        Meter(pricing: PricingSource(table: Self.table), ledger: ledger, namespaces: NoNamespaceLimits(), embeddingModel: nil, metrics: metrics, logger: Logger(label: "test"))
    }

    func request(_ fields: [String: JSONValue] = [:]) -> ImageRequest {
        ImageRequest(endpoint: .generations, model: "gpt-image-1", prompt: "a red kite", fields: fields, responseFormat: .b64JSON)
    }

    @Test func upstreamUsageIsChargedToTheNanoDollar() {
        var record = UsageRecord(requestID: "r1", createdAt: Date(), endpoint: .generations)
        let usage: JSONValue = ["input_tokens": 50, "output_tokens": 1056, "input_tokens_details": ["text_tokens": 50, "image_tokens": 0, "cached_tokens": 10]]
        meter().charge(request(), model: Self.gptImage, upstream: ["usage": usage], images: 1, into: &record)
        // 40 × $5 + 10 × $1.25 + 1056 × $40 per 1M tokens = 200 + 12.5 + 42240 µ$ = $0.0424525
        #expect(record.cost == Money(usd: "0.0424525"))
        #expect(record.usageSource == "upstream" && !record.costEstimated)
        #expect(record.textInputTokens == 50 && record.cachedTextInputTokens == 10 && record.imageOutputTokens == 1056)
    }

    @Test func nonsenseUsageIsChargedTheWorstCase() {
        var record = UsageRecord(requestID: "r2", createdAt: Date(), endpoint: .generations)
        let meter = meter()
        meter.charge(request(), model: Self.gptImage, upstream: ["usage": ["input_tokens": 5, "output_tokens": .integer(10_000_000_000_000_000)]], images: 1, into: &record)
        #expect(record.usageSource == TokenUsage.Source.invalid.rawValue && record.costEstimated)
        let worst = meter.worstCase(request(), model: Self.gptImage, table: Self.table)
        #expect(record.cost != nil && record.cost == worst.map { _ in record.cost! })
        #expect((record.cost ?? .zero) <= Money.requestCeiling && Money.zero < (record.cost ?? .zero))
    }

    @Test func anUnpricedTokenKindCostsTheDearestPriceNeverZero() {
        let metrics = CountingMetrics()
        var record = UsageRecord(requestID: "r3", createdAt: Date(), endpoint: .generations)
        let usage: JSONValue = ["input_tokens": 0, "output_tokens": 1, "output_tokens_details": ["image_tokens": 0, "text_tokens": 1]]
        meter(metrics: metrics).charge(request(), model: Self.gptImage, upstream: ["usage": usage], images: 1, into: &record)
        // One text output token, unpriced for gpt-image-1: charged at its dearest token price, $40 per 1M.
        #expect(record.cost == Money(usd: "0.00004") && record.costEstimated)
        #expect(metrics.unpriced.withLock { $0 } == ["gpt-image-1 (a token kind)"])
    }

    @Test func perImagePricesAndAnUnlistedQuality() {
        var record = UsageRecord(requestID: "r4", createdAt: Date(), endpoint: .generations)
        let meter = meter()
        meter.charge(request(["size": "1024x1024", "quality": "hd"]), model: Self.dalle, upstream: [:], images: 1, into: &record)
        #expect(record.cost == Money(usd: "0.08") && !record.costEstimated)
        meter.charge(request(["size": "1024x1024", "quality": "ultra"]), model: Self.dalle, upstream: [:], images: 2, into: &record)
        #expect(record.cost == Money(usd: "0.16") && record.costEstimated, "the dearest listed image price")
    }

    @Test func closingCommitsTheRowAndSettlesTheReservation() async throws {
        let ledger = MemoryLedger()
        let meter = meter(ledger)
        var key = VirtualKey(id: "key_1", name: "team", namespace: "ns", allowedModels: nil, prefix: "sk-af-abcd", secretHash: "h", createdAt: Date(), expiresAt: nil)
        key.limits = SpendLimits(budget: Money(usd: "1"))
        let scopes = try await meter.scopes(for: key)
        let reservation = try await meter.reserve(scopes, request: request(["quality": "high", "size": "1024x1024"]), models: [Self.gptImage, Self.dalle])
        // The worst case (gpt-image-1 at high, dearer than dall-e-3 hd) is held until the settle.
        let worst = try #require(meter.worstCase(request(["quality": "high", "size": "1024x1024"]), model: Self.gptImage, table: Self.table))
        #expect(Money(usd: "0.08")! < worst)
        #expect(await meter.limits.remainingByKey().first { $0.keyID == key.id }?.remaining == Money(usd: "1"))
        var record = UsageRecord(requestID: "r5", createdAt: Date(), endpoint: .generations)
        record.keyID = key.id
        record.cost = Money(usd: "0.25")
        #expect(await meter.close(record, reservation: reservation) == nil)
        #expect(ledger.rows.withLock { $0.map(\.requestID) } == ["r5"])
        #expect(await meter.limits.remainingByKey().first { $0.keyID == key.id }?.remaining == Money(usd: "0.75"))
        // A ledger that cannot write: false (the answer is withheld), the reservation still settles.
        let failing = self.meter(MemoryLedger(refuses: true))
        let held = try await failing.reserve(scopes, request: request(), models: [Self.gptImage])
        #expect(await failing.close(record, reservation: held) != nil)
    }
}
