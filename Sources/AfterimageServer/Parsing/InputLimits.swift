import AfterimageCore

/// Bounds on everything a client sends, checked while the body is parsed and before anything is
/// written. Every limit has a config key (README "Security").
struct InputLimits: Sendable {
    /// `server.max_body_bytes`: a multipart (edit) body.
    var maxBodyBytes = 50 << 20
    /// `server.max_json_bytes`: a JSON (generation) body.
    var maxJSONBytes = 1 << 20
    /// `server.max_prompt_bytes`: a prompt's UTF-8 size.
    var maxPromptBytes = 32_000
    /// `server.min_body_bytes_per_second`: slowest average body rate accepted after 10 s (0 = off).
    var minBodyBytesPerSecond = 8192
    /// `upstream.prefer_b64_json`.
    var preferB64JSON = true
    /// JSON nesting depth.
    static let maxJSONDepth = 32
    /// Multipart text parts (every part that is not a file).
    static let maxTextParts = 64
    /// One multipart text part.
    static let maxTextPartBytes = 64 << 10
    /// A part's header block (Content-Disposition and friends).
    static let maxPartHeaderBytes = 8 << 10
    /// `model` and each fallback id.
    static let maxModelBytes = 200
    /// `user`.
    static let maxUserBytes = 256
    /// Enum-like strings (`size`, `quality`, `style`, …).
    static let maxOptionBytes = 64
    /// Fallback models listed.
    static let maxFallbacks = 8
    /// Fields of the request object (unknown ones are forwarded, so they are bounded too).
    static let maxFields = 64

    /// The fields whose values are short option names.
    static let optionFields = ["size", "quality", "style", "background", "output_format", "moderation", "type", "input_fidelity", "response_format", "stream", "n", "partial_images", "output_compression"]

    /// Checks a field value's size; the message quotes at most 64 characters of it.
    static func check(_ name: String, _ value: String, max: Int) throws {
        guard value.utf8.count <= max else {
            throw AfterimageError.invalidPayload(
                "'\(LogText.echo(name))' is \(value.utf8.count) bytes; at most \(max) are accepted (starts '\(LogText.echo(value))').",
                param: LogText.echo(name)
            )
        }
    }

    /// The size bounds of a request's fields: names, option values, `user`, `model`, counts,
    /// and the nesting depth of anything forwarded as is.
    static func checkFields(_ fields: [String: JSONValue]) throws {
        guard fields.count <= maxFields else {
            throw AfterimageError.invalidPayload("The request has \(fields.count) fields; at most \(maxFields) are accepted.")
        }
        for (name, value) in fields {
            try check("field name", name, max: maxOptionBytes)
            if name.containsNUL || value.containsNUL { throw AfterimageError.nulCharacters(param: LogText.echo(name)) }
            guard let text = value.stringValue else {
                if depth(value) > 8 { throw AfterimageError.invalidPayload("'\(LogText.echo(name))' is nested too deeply.", param: LogText.echo(name)) }
                continue
            }
            switch name {
            case "prompt", "negative_prompt": continue  // bounded by max_prompt_bytes and the body limit
            case "model": try check(name, text, max: maxModelBytes)
            case "user": try check(name, text, max: maxUserBytes)
            case _ where optionFields.contains(name): try check(name, text, max: maxOptionBytes)
            default: try check(name, text, max: maxTextPartBytes)
            }
        }
    }

    /// Nesting depth of a value (a scalar is 0).
    static func depth(_ value: JSONValue) -> Int {
        switch value {
        case .array(let items): return 1 + (items.map(depth).max() ?? 0)
        case .object(let members): return 1 + (members.values.map(depth).max() ?? 0)
        default: return 0
        }
    }
}
