import AfterimageCore
import Foundation

/// What one model costs: token prices, and per-image prices by quality and size for models that
/// bill per image (DALL·E).
public struct ModelPrice: Sendable, Equatable {
    /// Per token (the file gives USD per 1M tokens).
    public var textInput: Money?
    public var cachedTextInput: Money?
    public var imageInput: Money?
    public var cachedImageInput: Money?
    public var imageOutput: Money?
    public var textOutput: Money?
    /// Per image: quality → size → price.
    public var perImage: [String: [String: Money]] = [:]

    public init() {}

    /// Whether the model bills per image rather than per token.
    public var billsPerImage: Bool { !perImage.isEmpty }

    /// The cost of `usage`, or nil when a token kind it used has no price. Cached tokens use the
    /// cached price, or the full price when the file gives none.
    public func cost(of usage: TokenUsage) -> Money? {
        guard let charged = charge(of: usage) else { return usage.isEmpty ? .zero : nil }
        return charged.estimated ? nil : charged.cost
    }

    /// The model's most expensive token price, the stand-in for a kind it has no price for.
    public var worstTokenPrice: Money? {
        [textInput, cachedTextInput, imageInput, cachedImageInput, imageOutput, textOutput].compactMap { $0 }.max()
    }

    /// What `usage` must be charged: token kinds without a price are charged at the model's
    /// worst-case known token price (`estimated` is then true), so a kind the price file forgot
    /// never makes a call free. Nil only when the model has no token price at all.
    public func charge(of usage: TokenUsage) -> (cost: Money, estimated: Bool)? {
        guard let worst = worstTokenPrice else { return nil }
        var total = Money.zero
        var estimated = false
        func add(_ count: Int, _ price: Money?) {
            guard count > 0 else { return }
            if price == nil { estimated = true }
            total += (price ?? worst) * count
        }
        add(usage.textInput - usage.cachedTextInput, textInput)
        add(usage.cachedTextInput, cachedTextInput ?? textInput)
        add(usage.imageInput - usage.cachedImageInput, imageInput)
        add(usage.cachedImageInput, cachedImageInput ?? imageInput)
        add(usage.imageOutput, imageOutput)
        add(usage.textOutput, textOutput)
        return (total, estimated)
    }

    /// The dearest per-image price in the table (any quality, any size).
    public var worstImagePrice: Money? { perImage.values.flatMap(\.values).max() }

    /// `images` images at `size` and `quality` (default `standard`), or nil if that size or
    /// quality is not listed (the caller then charges the dearest listed price, never a cheaper one).
    public func cost(images: Int, size: String, quality: String?) -> Money? {
        perImage[quality ?? "standard"]?[size].map { $0 * images }
    }
}

/// Prices of every known model, with the version rows record.
public struct PriceTable: Sendable, Equatable {
    /// Short hash of the pricing file's bytes.
    public var version: String
    /// Image models by id (or `provider/id`).
    public var models: [String: ModelPrice]
    /// Embedding models by name (for a paid remote embedder).
    public var embeddings: [String: ModelPrice]

    public init(version: String, models: [String: ModelPrice] = [:], embeddings: [String: ModelPrice] = [:]) {
        self.version = version
        self.models = models
        self.embeddings = embeddings
    }

    /// The price of a model, looked up as `provider/model`, then `model`.
    public func price(provider: String, model: String) -> ModelPrice? {
        models["\(provider)/\(model)"] ?? models[model]
    }
}
