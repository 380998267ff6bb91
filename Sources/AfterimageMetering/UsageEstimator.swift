import AfterimageCore
import Foundation

/// Token counts when the upstream reports none, and the worst case a budget must reserve.
public enum UsageEstimator {
    /// GPT image output tokens per image by size and quality (OpenAI's published table).
    static let outputTokens: [String: [String: Int]] = [
        "1024x1024": ["low": 272, "medium": 1056, "high": 4160],
        "1024x1536": ["low": 408, "medium": 1584, "high": 6240],
        "1536x1024": ["low": 400, "medium": 1568, "high": 6208],
    ]

    /// Image output tokens each streamed partial image adds.
    public static let partialImageTokens = 100

    /// Output tokens of one image. `auto` or missing quality counts as `medium` (the upstream
    /// picks; medium is its typical choice and the middle of the table); `auto` or missing size as
    /// 1024x1024; other sizes scale the 1024x1024 figure by area.
    public static func imageOutputTokens(size: String?, quality: String?) -> Int {
        let quality = ["low", "medium", "high"].contains(quality ?? "") ? quality! : "medium"
        let size = size ?? "auto"
        if let row = outputTokens[size] { return row[quality]! }
        let square = outputTokens["1024x1024"]![quality]!
        guard let dimensions = ModelCapability.parseSize(size) else { return square }
        let area = Double(dimensions.width * dimensions.height) / Double(1024 * 1024)
        return Int((Double(square) * area).rounded(.up))
    }

    /// Input tokens of one edit image: scaled to fit 2048×2048, then so its shortest side is
    /// 512 px; 65 + 129 per 512-px tile at `low` fidelity, plus 4096 (square) or 6144 at `high`.
    public static func imageInputTokens(width: Int, height: Int, fidelity: String?) -> Int {
        guard width > 0, height > 0 else { return 0 }
        var w = Double(width), h = Double(height)
        let fit = min(1, 2048 / max(w, h))
        w *= fit
        h *= fit
        let scale = 512 / min(w, h)
        w = (w * scale).rounded()
        h = (h * scale).rounded()
        // At most 64 tiles: only a hostile header (say 1×2,000,000,000 px) gets near it.
        let tiles = min(64, Int(min((w / 512).rounded(.up), 64)) * Int(min((h / 512).rounded(.up), 64)))
        var tokens = 65 + 129 * tiles
        if fidelity == "high" { tokens += width == height ? 4096 : 6144 }
        return tokens
    }

    /// Text tokens of a prompt: one per four UTF-8 bytes, rounded up (OpenAI's rule of thumb for
    /// English; BPE counts of ordinary English prompts fall within about ±25% of it).
    public static func textTokens(_ text: String) -> Int {
        text.isEmpty ? 0 : (text.utf8.count + 3) / 4
    }

    /// The usage of a request the upstream did not report, from what it asked and what came back.
    public static func estimate(request: ImageRequest, images: Int, size: String?, quality: String?, partialImages: Int = 0) -> TokenUsage {
        var usage = TokenUsage(source: .estimated)
        usage.textInput = textTokens(request.prompt ?? "")
        let fidelity = request.fields["input_fidelity"]?.stringValue
        usage.imageInput = request.images.reduce(0) { $0 + imageInputTokens(width: $1.info.dimensions.width, height: $1.info.dimensions.height, fidelity: fidelity) }
        usage.imageOutput = images * imageOutputTokens(size: size, quality: quality) + partialImages * partialImageTokens
        return usage
    }

    /// An upper bound on what the request can cost in tokens, for budget reservations: every
    /// prompt byte a token, high fidelity and high quality, the largest size when it is `auto`.
    public static func worstCase(request: ImageRequest) -> TokenUsage {
        var usage = TokenUsage(source: .estimated)
        usage.textInput = request.prompt?.utf8.count ?? 0
        usage.imageInput = request.images.reduce(0) { $0 + imageInputTokens(width: $1.info.dimensions.width, height: $1.info.dimensions.height, fidelity: "high") }
        let size = request.fields["size"]?.stringValue
        let perImage = size == nil || size == "auto" ? 6240 : max(imageOutputTokens(size: size, quality: "high"), 1)
        let partials = Int(request.fields["partial_images"]?.integerValue ?? 0)
        usage.imageOutput = request.imageCount * (perImage + partials * partialImageTokens)
        // Text output (gpt-image-1.5 may answer with text): a generous cap.
        usage.textOutput = 4096
        return usage
    }
}
