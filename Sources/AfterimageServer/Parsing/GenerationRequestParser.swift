import AfterimageCore
import Foundation
import NIOFoundationCompat
import Hummingbird

/// Turns a `POST /v1/images/generations` JSON body into an `ImageRequest`.
enum GenerationRequestParser {
    static func parse(_ body: ByteBuffer, limits: InputLimits = InputLimits()) throws -> ImageRequest {
        let value: JSONValue
        // The parser stops at the depth bound, before deep nesting could cost stack or time.
        do {
            value = try JSONParser.parse(Data(buffer: body), maxDepth: InputLimits.maxJSONDepth)
        } catch let error as JSONParseError where error.tooDeep {
            throw AfterimageError.invalidPayload("Request body is nested more than \(InputLimits.maxJSONDepth) levels deep.")
        } catch {
            throw AfterimageError.invalidPayload("Request body is not valid JSON.")
        }
        guard var fields = value.objectValue else {
            throw AfterimageError.invalidPayload("Request body must be a JSON object.")
        }
        try InputLimits.checkFields(fields)
        let model = try RequestFields.requiredModel(fields.removeValue(forKey: "model"))
        let fallbacks = try RequestFields.fallbacks(fields.removeValue(forKey: "fallbacks"))
        let responseFormat = try RequestFields.responseFormat(fields.removeValue(forKey: "response_format"))
        guard let promptValue = fields["prompt"], promptValue != .null else {
            throw AfterimageError.invalidPayload("Missing required parameter: 'prompt'.", param: "prompt")
        }
        guard let prompt = promptValue.stringValue, !prompt.trimmedWhitespace.isEmpty else {
            throw AfterimageError.invalidPayload("'prompt' must be a non-empty string.", param: "prompt")
        }
        try RequestFields.checkCommon(fields)
        var request = ImageRequest(
            endpoint: .generations, model: model, prompt: prompt, fields: fields,
            responseFormat: responseFormat ?? .b64JSON, fallbacks: fallbacks
        )
        request.responseFormatGiven = responseFormat != nil
        return request
    }
}

/// Checks shared by both endpoints on individual fields.
enum RequestFields {
    static func requiredModel(_ value: JSONValue?) throws -> String {
        guard let value, value != .null else {
            throw AfterimageError.invalidPayload("Missing required parameter: 'model'.", param: "model")
        }
        guard let model = value.stringValue?.trimmedWhitespace, !model.isEmpty else {
            throw AfterimageError.invalidPayload("'model' must be a non-empty string.", param: "model")
        }
        try InputLimits.check("model", model, max: InputLimits.maxModelBytes)
        return model
    }

    static func fallbacks(_ value: JSONValue?) throws -> [String] {
        guard let value, value != .null else { return [] }
        let models: [String]
        if let single = value.stringValue {
            models = single.split(separator: ",").map(\.trimmedWhitespace).filter { !$0.isEmpty }
        } else {
            guard let list = value.arrayValue else {
                throw AfterimageError.invalidPayload("'fallbacks' must be a list of model ids.", param: "fallbacks")
            }
            models = try list.map { item in
                guard let model = item.stringValue, !model.isEmpty else {
                    throw AfterimageError.invalidPayload("'fallbacks' must be a list of model ids.", param: "fallbacks")
                }
                return model
            }
        }
        guard models.count <= InputLimits.maxFallbacks else {
            throw AfterimageError.invalidPayload("At most \(InputLimits.maxFallbacks) fallbacks may be named; got \(models.count).", param: "fallbacks")
        }
        for model in models { try InputLimits.check("fallbacks", model, max: InputLimits.maxModelBytes) }
        return models
    }

    static func responseFormat(_ value: JSONValue?) throws -> ResponseFormat? {
        guard let value, value != .null else { return nil }
        guard let text = value.stringValue, let format = ResponseFormat(rawValue: text) else {
            throw AfterimageError.invalidPayload("'response_format' must be 'url' or 'b64_json'.", param: "response_format")
        }
        return format
    }

    /// Type checks on `n`, `stream` and the string-valued options.
    static func checkCommon(_ fields: [String: JSONValue]) throws {
        if let n = fields["n"], n != .null {
            guard let count = n.integerValue else {
                throw AfterimageError.invalidPayload("'n' must be an integer between 1 and 10.", param: "n")
            }
            guard (1...10).contains(count) else {
                throw AfterimageError.invalidPayload("'n' must be between 1 and 10, got \(count).", param: "n")
            }
        }
        for name in ["size", "quality", "style", "background", "output_format", "moderation", "negative_prompt", "user", "type", "input_fidelity"] {
            if let value = fields[name], value != .null, value.stringValue == nil {
                throw AfterimageError.invalidPayload("'\(name)' must be a string.", param: name)
            }
        }
        if let stream = fields["stream"], stream != .null, stream != .bool(true), stream != .bool(false), !["true", "false"].contains(stream.stringValue ?? "") {
            throw AfterimageError.invalidPayload("'stream' must be true or false.", param: "stream")
        }
        if let partials = fields["partial_images"], partials != .null {
            guard let count = partials.integerValue, (0...3).contains(count) else {
                throw AfterimageError.invalidPayload("'partial_images' must be an integer between 0 and 3.", param: "partial_images")
            }
        }
    }
}
