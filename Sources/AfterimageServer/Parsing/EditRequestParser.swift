import AfterimageCore
import Foundation
import NIOFoundationCompat
import Hummingbird

/// Turns a `POST /v1/images/edits` multipart body into an `ImageRequest`, parsing the stream as
/// it arrives (the body limit is enforced while reading).
enum EditRequestParser {
    /// One part of the form as received.
    struct Part {
        var name: String?
        var filename: String?
        var contentType: String?
        var body = Data()
    }

    /// Collects parts from the streaming parser's callbacks.
    final class PartCollector {
        var parts: [Part] = []
        var current = Part()
        var textParts = 0
        /// The first bound broken while parsing (the callbacks cannot throw).
        var violation: AfterimageError?

        func header(_ name: String, _ value: String) {
            switch name.lowercased() {
            case "content-disposition":
                let parameters = HeaderParameters.parse(value)
                current.name = parameters["name"]
                current.filename = parameters["filename"]
            case "content-type":
                current.contentType = value
            default:
                break
            }
        }

        func body(_ bytes: ArraySlice<UInt8>) {
            guard violation == nil else { return }
            if current.filename == nil, current.body.count + bytes.count > InputLimits.maxTextPartBytes {
                violation = .invalidPayload(
                    "Field '\(LogText.echo(current.name ?? "?"))' is longer than \(InputLimits.maxTextPartBytes) bytes.", param: current.name.map(LogText.echo)
                )
                return
            }
            current.body.append(contentsOf: bytes)
        }

        func complete() {
            if current.filename == nil {
                textParts += 1
                if textParts > InputLimits.maxTextParts, violation == nil {
                    violation = .invalidPayload("The form has more than \(InputLimits.maxTextParts) text fields.")
                }
            }
            if violation == nil { parts.append(current) }
            current = Part()
        }
    }

    static func parse(_ request: Request, limits: InputLimits) async throws -> ImageRequest {
        let limit = limits.maxBodyBytes
        guard let contentType = request.headers[.contentType],
              contentType.lowercased().hasPrefix("multipart/form-data"),
              let boundary = HeaderParameters.parse(contentType)["boundary"], !boundary.isEmpty
        else {
            throw AfterimageError.invalidPayload("Content-Type must be multipart/form-data with a boundary.")
        }
        let parser = try MultipartStreamParser(boundary: boundary, maxHeaderBytes: InputLimits.maxPartHeaderBytes)
        let collector = PartCollector()
        parser.onHeader = { collector.header($0, $1) }
        parser.onBody = { collector.body($0) }
        parser.onPartComplete = { collector.complete() }
        try await BodyReader.stream(request, limit: limit, minRate: limits.minBodyBytesPerSecond) { chunk in
            try parser.execute(chunk.readableBytesView)
            if let violation = collector.violation { throw violation }
        }
        try parser.finish()
        guard !collector.parts.isEmpty else {
            throw AfterimageError.invalidPayload("Malformed multipart body: no parts found.")
        }
        if let violation = collector.violation { throw violation }
        return try build(collector.parts)
    }

    static func build(_ parts: [Part]) throws -> ImageRequest {
        var fields = [String: JSONValue]()
        var images = [UploadedFile]()
        var mask: UploadedFile?
        var imageFieldCount = 0
        for part in parts {
            guard let name = part.name, !name.isEmpty else {
                throw AfterimageError.invalidPayload("Malformed multipart body: a part has no name.")
            }
            switch name {
            case "image", "image[]":
                imageFieldCount += 1
                guard imageFieldCount <= 16 else {
                    throw AfterimageError.invalidPayload("At most 16 images may be sent.", param: "image")
                }
                images.append(try file(part, name: name, index: imageFieldCount))
            case "mask":
                let upload = try file(part, name: name, index: nil)
                guard upload.info.format == .png else {
                    throw AfterimageError.invalidPayload("'mask' must be a PNG image (got \(upload.info.format.rawValue.uppercased())).", param: "mask")
                }
                mask = upload
            default:
                guard part.filename == nil else {
                    throw AfterimageError.invalidPayload("Unexpected file in field '\(LogText.echo(name))'; only 'image', 'image[]' and 'mask' take files.", param: LogText.echo(name))
                }
                fields[name] = .string(String(decoding: part.body, as: UTF8.self))
            }
        }
        try InputLimits.checkFields(fields)
        let model = try RequestFields.requiredModel(fields.removeValue(forKey: "model"))
        let fallbacks = try RequestFields.fallbacks(fields.removeValue(forKey: "fallbacks"))
        let responseFormat = try RequestFields.responseFormat(fields.removeValue(forKey: "response_format"))
        if let type = fields["type"]?.stringValue, !["inpainting", "outpainting", "background_removal"].contains(type) {
            throw AfterimageError.invalidPayload("'type' must be inpainting, outpainting or background_removal.", param: "type")
        }
        if let fidelity = fields["input_fidelity"]?.stringValue, !["low", "high"].contains(fidelity) {
            throw AfterimageError.invalidPayload("'input_fidelity' must be 'low' or 'high'.", param: "input_fidelity")
        }
        let prompt = fields["prompt"]?.stringValue
        let promptRequired = fields["type"]?.stringValue != "background_removal"
        if promptRequired && (prompt ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw AfterimageError.invalidPayload("Missing required parameter: 'prompt'.", param: "prompt")
        }
        guard let first = images.first else {
            throw AfterimageError.invalidPayload("Missing required parameter: 'image' (or 'image[]').", param: "image")
        }
        if let mask, mask.info.dimensions != first.info.dimensions {
            throw AfterimageError.invalidPayload(
                "Mask dimensions \(mask.info.dimensions) differ from the image's \(first.info.dimensions); they must match.",
                param: "mask"
            )
        }
        try RequestFields.checkCommon(fields)
        var request = ImageRequest(
            endpoint: .edits, model: model, prompt: prompt, fields: fields,
            responseFormat: responseFormat ?? .b64JSON, fallbacks: fallbacks, images: images, mask: mask
        )
        request.responseFormatGiven = responseFormat != nil
        return request
    }

    static func file(_ part: Part, name: String, index: Int?) throws -> UploadedFile {
        let label = index.map { "\(name) #\($0)" } ?? name
        let filename = LogText.prefix(part.filename ?? (index.map { "image\($0)" } ?? "mask"), maxBytes: 255)
        guard !part.body.isEmpty else {
            throw AfterimageError.invalidPayload("'\(label)' ('\(LogText.echo(filename))') is empty.", param: name)
        }
        guard let info = ImageInfo.read(part.body) else {
            throw AfterimageError.invalidPayload(
                "'\(label)' ('\(LogText.echo(filename))') is not a PNG, JPEG or WebP image (checked by its content, not its name).",
                param: name
            )
        }
        return UploadedFile(fieldName: name, filename: filename, data: part.body, info: info)
    }
}

/// Parameters of a header value such as `form-data; name="image[]"; filename="a.png"`.
enum HeaderParameters {
    static func parse(_ value: String) -> [String: String] {
        var result = [String: String]()
        var index = value.startIndex
        // Skip the leading token (`form-data`, `multipart/form-data`).
        guard let firstSemicolon = value.firstIndex(of: ";") else { return result }
        index = value.index(after: firstSemicolon)
        while index < value.endIndex {
            while index < value.endIndex, value[index] == " " || value[index] == ";" { index = value.index(after: index) }
            guard let equals = value[index...].firstIndex(of: "=") else { break }
            let key = value[index..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            index = value.index(after: equals)
            var parsed = ""
            if index < value.endIndex, value[index] == "\"" {
                index = value.index(after: index)
                while index < value.endIndex, value[index] != "\"" {
                    if value[index] == "\\", value.index(after: index) < value.endIndex { index = value.index(after: index) }
                    parsed.append(value[index])
                    index = value.index(after: index)
                }
                if index < value.endIndex { index = value.index(after: index) }
            } else {
                let end = value[index...].firstIndex(of: ";") ?? value.endIndex
                parsed = value[index..<end].trimmingCharacters(in: .whitespaces)
                index = end
            }
            result[key] = parsed
        }
        return result
    }
}
