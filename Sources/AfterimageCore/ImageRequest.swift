import Foundation

/// The two image endpoints.
public enum ImageEndpoint: String, Sendable, Codable {
    case generations
    case edits

    /// `request_type` in `extra_fields`.
    public var requestType: String {
        switch self {
        case .generations: return "image_generation"
        case .edits: return "image_edit"
        }
    }

    /// The path below the provider's base URL.
    public var upstreamPath: String { "/images/\(rawValue)" }
}

/// How the client wants images back.
public enum ResponseFormat: String, Sendable, Codable {
    case url
    case b64JSON = "b64_json"
}

/// An uploaded image or mask of an edit request.
public struct UploadedFile: Sendable, Equatable {
    /// Form field name (`image`, `image[]` or `mask`).
    public var fieldName: String
    public var filename: String
    public var data: Data
    public var info: ImageInfo

    public init(fieldName: String, filename: String, data: Data, info: ImageInfo) {
        self.fieldName = fieldName
        self.filename = filename
        self.data = data
        self.info = info
    }
}

/// A parsed, validated client request to one of the image endpoints.
public struct ImageRequest: Sendable {
    public var endpoint: ImageEndpoint
    /// The model id as the client sent it.
    public var model: String
    public var prompt: String?
    /// Every field to forward upstream except `model`, files and proxy-only fields,
    /// with the client's own values (unknown fields included).
    public var fields: [String: JSONValue]
    /// What the client asked for; the upstream's answer is converted to it.
    public var responseFormat: ResponseFormat
    /// Whether the client named `response_format` (when not, DALL·E models default to `url`).
    public var responseFormatGiven = false
    /// Models to try, in order, when the primary is unavailable.
    public var fallbacks: [String]
    /// Edit inputs: `image`/`image[]` files in order.
    public var images: [UploadedFile]
    public var mask: UploadedFile?

    public init(
        endpoint: ImageEndpoint, model: String, prompt: String?, fields: [String: JSONValue],
        responseFormat: ResponseFormat, fallbacks: [String] = [], images: [UploadedFile] = [], mask: UploadedFile? = nil
    ) {
        self.endpoint = endpoint
        self.model = model
        self.prompt = prompt
        self.fields = fields
        self.responseFormat = responseFormat
        self.fallbacks = fallbacks
        self.images = images
        self.mask = mask
    }

    /// Requested number of images (1 when not given).
    public var imageCount: Int { Int(fields["n"]?.integerValue ?? 1) }

    /// Whether the client asked for Server-Sent Events (`stream=true`).
    public var isStream: Bool { fields["stream"] == .bool(true) || fields["stream"]?.stringValue == "true" }

    /// Partial images asked for (0–3).
    public var partialImages: Int { Int(fields["partial_images"]?.integerValue ?? 0) }
}
