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
        var total = Money.zero
        func add(_ count: Int, _ price: Money?) -> Bool {
            guard count > 0 else { return true }
            guard let price else { return false }
            total += price * count
            return true
        }
        let ok = add(usage.textInput - usage.cachedTextInput, textInput)
            && add(usage.cachedTextInput, cachedTextInput ?? textInput)
            && add(usage.imageInput - usage.cachedImageInput, imageInput)
            && add(usage.cachedImageInput, cachedImageInput ?? imageInput)
            && add(usage.imageOutput, imageOutput)
            && add(usage.textOutput, textOutput)
        return ok ? total : nil
    }

    /// `images` images at `size` and `quality` (default `standard`), or nil if unpriced.
    public func cost(images: Int, size: String, quality: String?) -> Money? {
        let table = perImage[quality ?? "standard"] ?? perImage["standard"]
        return table?[size].map { $0 * images }
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
