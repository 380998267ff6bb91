import AfterimageCore
import AfterimageUpstream
import Foundation

/// Builds the provider call for one model: the client's fields with the upstream model name,
/// `response_format` dropped for models that reject it, proxy-only fields never included.
enum UpstreamCallBuilder {
    /// With `preferB64JSON`, models that take `response_format` are asked for `b64_json` whatever
    /// the client wants (the gateway serves its own URLs), so no upstream URL must be fetched.
    static func call(for request: ImageRequest, model: ModelCapability, provider: ProviderEndpoint, preferB64JSON: Bool = true) throws -> UpstreamCall {
        var fields = request.fields
        fields["model"] = .string(model.upstreamModel)
        if model.acceptsResponseFormat {
            fields["response_format"] = .string(preferB64JSON ? ResponseFormat.b64JSON.rawValue : request.responseFormat.rawValue)
        }
        switch request.endpoint {
        case .generations:
            let data = JSONWriter.data(JSONValue.object(fields))
            return UpstreamCall(provider: provider, path: request.endpoint.upstreamPath, body: .json(data))
        case .edits:
            var parts: [MultipartBody.Part] = fields.keys.sorted().map { name in
                .field(name: name, value: fields[name]!.formFieldText)
            }
            for file in request.images + (request.mask.map { [$0] } ?? []) {
                parts.append(.file(name: file.fieldName, filename: file.filename, contentType: file.info.format.contentType, data: file.data))
            }
            return UpstreamCall(provider: provider, path: request.endpoint.upstreamPath, body: try MultipartBody.encode(parts))
        }
    }
}
