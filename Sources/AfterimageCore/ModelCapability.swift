import Foundation

/// What one configured model accepts: the checks run on a request before it goes upstream.
public struct ModelCapability: Sendable, Codable, Equatable {
    /// Model id clients send (e.g. `gpt-image-1`).
    public var id: String
    /// Provider name (a key of the `providers` config section).
    public var provider: String
    /// Model name sent upstream; defaults to `id`.
    public var upstreamModel: String
    /// Allowed `size` values (may include `auto`); empty when `sizeRule` decides.
    public var sizes: [String]
    /// A rule for free-form sizes, checked when the size is not in `sizes`.
    public var sizeRule: SizeRule?
    /// Largest `n`.
    public var maxN: Int
    /// Longest prompt, in characters.
    public var maxPromptLength: Int
    /// Allowed `quality` values; empty allows any.
    public var qualities: [String]
    /// Allowed `style` values; empty means the model takes no `style`.
    public var styles: [String]
    /// Whether the upstream accepts `response_format` (GPT image models reject it and return base64).
    public var acceptsResponseFormat: Bool
    /// Whether `/v1/images/edits` may use this model.
    public var supportsEdits: Bool
    /// Most input images one edit may carry.
    public var maxEditImages: Int
    /// Whether the upstream streams (`stream=true`, partial images); default: the models that
    /// take no `response_format` (GPT image models).
    public var supportsStreaming: Bool

    public init(
        id: String, provider: String, upstreamModel: String? = nil, sizes: [String], sizeRule: SizeRule? = nil,
        maxN: Int, maxPromptLength: Int, qualities: [String], styles: [String] = [],
        acceptsResponseFormat: Bool, supportsEdits: Bool, maxEditImages: Int = 16, supportsStreaming: Bool? = nil
    ) {
        self.id = id
        self.provider = provider
        self.upstreamModel = upstreamModel ?? id
        self.sizes = sizes
        self.sizeRule = sizeRule
        self.maxN = maxN
        self.maxPromptLength = maxPromptLength
        self.qualities = qualities
        self.styles = styles
        self.acceptsResponseFormat = acceptsResponseFormat
        self.supportsEdits = supportsEdits
        self.maxEditImages = maxEditImages
        self.supportsStreaming = supportsStreaming ?? !acceptsResponseFormat
    }

    /// The qualified id `provider/model`.
    public var qualifiedID: String { "\(provider)/\(id)" }

    /// Why `size` is not allowed for this model, or nil when it is.
    public func sizeProblem(_ size: String) -> String? {
        if sizes.contains(size) { return nil }
        if let sizeRule, size != "auto" {
            guard let dimensions = Self.parseSize(size) else {
                return "size '\(size)' is not WIDTHxHEIGHT"
            }
            if let problem = sizeRule.problem(dimensions) {
                return "size '\(size)' is not allowed for \(id): \(problem)"
            }
            return nil
        }
        let allowed = sizes.isEmpty ? "" : " (allowed: \(sizes.joined(separator: ", ")))"
        return "size '\(size)' is not allowed for \(id)\(allowed)"
    }

    /// The longest side a size may name; larger values (from clients or upstreams) are not sizes.
    public static let maxSizeEdge = 100_000

    /// Parses `1024x1536` into dimensions; nil when malformed or a side exceeds `maxSizeEdge`
    /// (so width × height can never overflow).
    public static func parseSize(_ size: String) -> ImageDimensions? {
        guard size.utf8.count <= 32 else { return nil }
        let parts = size.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let width = Int(parts[0]), let height = Int(parts[1]), (1...maxSizeEdge).contains(width), (1...maxSizeEdge).contains(height) else {
            return nil
        }
        return ImageDimensions(width: width, height: height)
    }
}

/// A rule for free-form output sizes (e.g. gpt-image-2: both sides multiples of 16 within bounds).
public struct SizeRule: Sendable, Codable, Equatable {
    public var multipleOf: Int
    public var minEdge: Int
    public var maxEdge: Int
    public var minPixels: Int
    public var maxPixels: Int
    /// Largest long-side / short-side ratio.
    public var maxAspectRatio: Double

    public init(multipleOf: Int, minEdge: Int, maxEdge: Int, minPixels: Int, maxPixels: Int, maxAspectRatio: Double) {
        self.multipleOf = multipleOf
        self.minEdge = minEdge
        self.maxEdge = maxEdge
        self.minPixels = minPixels
        self.maxPixels = maxPixels
        self.maxAspectRatio = maxAspectRatio
    }

    /// What is wrong with these dimensions, or nil.
    public func problem(_ d: ImageDimensions) -> String? {
        if d.width % multipleOf != 0 || d.height % multipleOf != 0 {
            return "both sides must be multiples of \(multipleOf)"
        }
        if min(d.width, d.height) < minEdge || max(d.width, d.height) > maxEdge {
            return "each side must be between \(minEdge) and \(maxEdge) pixels"
        }
        let pixels = d.width * d.height
        if pixels < minPixels || pixels > maxPixels {
            return "total pixels must be between \(minPixels) and \(maxPixels)"
        }
        if Double(max(d.width, d.height)) > Double(min(d.width, d.height)) * maxAspectRatio {
            return "aspect ratio must be at most \(maxAspectRatio):1"
        }
        return nil
    }
}
