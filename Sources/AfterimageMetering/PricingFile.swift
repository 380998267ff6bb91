import AfterimageCore
import Foundation
import Yams

/// A problem in the pricing file, naming the key.
public struct PricingError: Error, CustomStringConvertible, Equatable {
    public var key: String
    public var problem: String
    public var description: String { "invalid pricing: \(key): \(problem)" }
}

/// Reads `Config/pricing.yaml`: `models.NAME.{text_input, cached_text_input, image_input,
/// cached_image_input, image_output, text_output}` in USD per 1M tokens, `models.NAME.per_image.
/// QUALITY.SIZE` in USD per image, and `embeddings.NAME.text_input`. Amounts are read as decimal
/// text, never through a binary float.
public enum PricingFile {
    static let tokenKinds = ["text_input", "cached_text_input", "image_input", "cached_image_input", "image_output", "text_output"]

    public static func parse(_ text: String) throws -> PriceTable {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch { throw PricingError(key: "(file)", problem: "not valid YAML: \(error)") }
        let version = String(Data(text.utf8).sha256Hex.prefix(12))
        var table = PriceTable(version: version)
        guard let mapping = root?.mapping else {
            if root == nil { return table }
            throw PricingError(key: "(root)", problem: "must be a mapping")
        }
        for (key, value) in mapping {
            switch key.string {
            case "models": table.models = try models(value, path: "models")
            case "embeddings": table.embeddings = try models(value, path: "embeddings")
            default: throw PricingError(key: key.string ?? "?", problem: "unknown key (expected models, embeddings)")
            }
        }
        return table
    }

    static func models(_ node: Node, path: String) throws -> [String: ModelPrice] {
        guard let mapping = node.mapping else { throw PricingError(key: path, problem: "must be a mapping of model names") }
        var result = [String: ModelPrice]()
        for (name, value) in mapping {
            let modelPath = "\(path).\(name.string ?? "?")"
            guard let fields = value.mapping else { throw PricingError(key: modelPath, problem: "must be a mapping") }
            var price = ModelPrice()
            for (field, amount) in fields {
                let key = field.string ?? "?"
                if key == "per_image" {
                    price.perImage = try perImage(amount, path: "\(modelPath).per_image")
                    continue
                }
                guard tokenKinds.contains(key) else {
                    throw PricingError(key: "\(modelPath).\(key)", problem: "unknown key (expected \(tokenKinds.joined(separator: ", ")), per_image)")
                }
                // USD per 1M tokens → nano-dollars per token: ×1000.
                let perMillion = try money(amount, path: "\(modelPath).\(key)")
                guard perMillion.nanos % 1_000_000 == 0 else {
                    throw PricingError(key: "\(modelPath).\(key)", problem: "finer than $0.001 per 1M tokens")
                }
                let perToken = Money(nanos: perMillion.nanos / 1_000_000)
                switch key {
                case "text_input": price.textInput = perToken
                case "cached_text_input": price.cachedTextInput = perToken
                case "image_input": price.imageInput = perToken
                case "cached_image_input": price.cachedImageInput = perToken
                case "image_output": price.imageOutput = perToken
                default: price.textOutput = perToken
                }
            }
            result[name.string ?? "?"] = price
        }
        return result
    }

    static func perImage(_ node: Node, path: String) throws -> [String: [String: Money]] {
        guard let qualities = node.mapping else { throw PricingError(key: path, problem: "must map quality → size → USD") }
        var result = [String: [String: Money]]()
        for (quality, sizes) in qualities {
            let qualityPath = "\(path).\(quality.string ?? "?")"
            guard let sizes = sizes.mapping else { throw PricingError(key: qualityPath, problem: "must map size → USD") }
            for (size, amount) in sizes {
                let sizePath = "\(qualityPath).\(size.string ?? "?")"
                guard let text = size.string, ModelCapability.parseSize(text) != nil else { throw PricingError(key: sizePath, problem: "size must be WIDTHxHEIGHT") }
                result[quality.string ?? "?", default: [:]][text] = try money(amount, path: sizePath)
            }
        }
        return result
    }

    static func money(_ node: Node, path: String) throws -> Money {
        guard let text = node.scalar?.string, let money = Money(usd: text) else {
            throw PricingError(key: path, problem: "must be a USD amount such as 0.04")
        }
        return money
    }
}
