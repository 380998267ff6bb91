import AfterimageCore

/// Tokens one request consumed, by kind, and where the numbers came from.
public struct TokenUsage: Sendable, Equatable {
    public enum Source: String, Sendable {
        /// The upstream's `usage` block (authoritative).
        case upstream
        /// Computed by `UsageEstimator` because the upstream sent none.
        case estimated
    }

    /// Text input tokens, cached ones included.
    public var textInput = 0
    /// The cached part of `textInput`.
    public var cachedTextInput = 0
    /// Image input tokens, cached ones included.
    public var imageInput = 0
    /// The cached part of `imageInput`.
    public var cachedImageInput = 0
    public var imageOutput = 0
    public var textOutput = 0
    public var source = Source.estimated

    public init(textInput: Int = 0, cachedTextInput: Int = 0, imageInput: Int = 0, cachedImageInput: Int = 0, imageOutput: Int = 0, textOutput: Int = 0, source: Source = .estimated) {
        self.textInput = textInput
        self.cachedTextInput = cachedTextInput
        self.imageInput = imageInput
        self.cachedImageInput = cachedImageInput
        self.imageOutput = imageOutput
        self.textOutput = textOutput
        self.source = source
    }

    /// Reads an OpenAI images `usage` block: `input_tokens_details.{text_tokens,image_tokens,
    /// cached_tokens}` (cached tokens count as text unless `cached_tokens_details` splits them),
    /// `output_tokens` and `output_tokens_details.{image_tokens,text_tokens}`. Nil when absent.
    public init?(upstream usage: JSONValue?) {
        guard let usage, let object = usage.objectValue, !object.isEmpty else { return nil }
        func int(_ value: JSONValue?) -> Int? { value?.integerValue.map(Int.init) }
        let input = usage["input_tokens_details"]
        let output = usage["output_tokens_details"]
        if let text = int(input?["text_tokens"]) {
            textInput = text
            imageInput = int(input?["image_tokens"]) ?? 0
        } else {
            textInput = int(usage["input_tokens"]) ?? 0
        }
        if let details = input?["cached_tokens_details"] {
            cachedTextInput = int(details["text_tokens"]) ?? 0
            cachedImageInput = int(details["image_tokens"]) ?? 0
        } else {
            cachedTextInput = int(input?["cached_tokens"]) ?? 0
        }
        cachedTextInput = min(cachedTextInput, textInput)
        cachedImageInput = min(cachedImageInput, imageInput)
        if let output, output != .null {
            imageOutput = int(output["image_tokens"]) ?? 0
            textOutput = int(output["text_tokens"]) ?? 0
        } else {
            imageOutput = int(usage["output_tokens"]) ?? 0
        }
        source = .upstream
    }
}
