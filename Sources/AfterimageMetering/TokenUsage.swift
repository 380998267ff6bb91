import AfterimageCore

/// Tokens one request consumed, by kind, and where the numbers came from.
public struct TokenUsage: Sendable, Equatable {
    public enum Source: String, Sendable {
        /// The upstream's `usage` block (authoritative).
        case upstream
        /// Computed by `UsageEstimator` because the upstream sent none.
        case estimated
        /// The upstream sent nonsense (negative, fractional, non-numeric or absurdly large
        /// counts): the row is charged the worst-case estimate instead.
        case invalid = "usage_invalid"
    }

    /// The most tokens of one kind a single request can plausibly report; above it the upstream's
    /// `usage` is treated as invalid (10 images of the largest size at high quality use < 1M).
    public static let maxPlausibleTokens = 50_000_000

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

    /// No tokens of any kind.
    public var isEmpty: Bool { textInput == 0 && imageInput == 0 && imageOutput == 0 && textOutput == 0 }

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
    /// A count that is present but not a whole number in 0…`maxPlausibleTokens` makes the source
    /// `.invalid` (the counts are then not to be trusted).
    public init?(upstream usage: JSONValue?) {
        guard let usage, let object = usage.objectValue, !object.isEmpty else { return nil }
        var malformed = false
        func int(_ value: JSONValue?) -> Int? {
            guard let value, value != .null else { return nil }
            guard case .integer(let number) = value, (0...Int64(Self.maxPlausibleTokens)).contains(number) else {
                malformed = true
                return 0
            }
            return Int(number)
        }
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
            if output.objectValue == nil { malformed = true }
            imageOutput = int(output["image_tokens"]) ?? 0
            textOutput = int(output["text_tokens"]) ?? 0
        } else {
            imageOutput = int(usage["output_tokens"]) ?? 0
        }
        if let input, input != .null, input.objectValue == nil { malformed = true }
        source = malformed ? .invalid : .upstream
    }
}
