import AfterimageCore

/// Checks a parsed request against a model's capability entry, before anything goes upstream.
enum RequestValidator {
    static func validate(_ request: ImageRequest, against model: ModelCapability, param: String = "model") throws {
        if request.endpoint == .edits {
            guard model.supportsEdits else {
                throw AfterimageError.invalidPayload("Model '\(model.id)' does not support image edits.", param: param)
            }
            if request.images.count > model.maxEditImages {
                throw AfterimageError.invalidPayload(
                    "Model '\(model.id)' accepts at most \(model.maxEditImages) input image(s); got \(request.images.count).",
                    param: "image"
                )
            }
        }
        if request.isStream, !model.supportsStreaming {
            throw AfterimageError.invalidPayload("Model '\(model.id)' does not stream; send stream=false.", param: param == "model" ? "stream" : param)
        }
        if let size = request.fields["size"]?.stringValue, let problem = model.sizeProblem(size) {
            throw AfterimageError.invalidPayload(problem.prefix(1).uppercased() + problem.dropFirst() + ".", param: "size")
        }
        if request.imageCount > model.maxN {
            throw AfterimageError.invalidPayload("'n' may be at most \(model.maxN) for \(model.id); got \(request.imageCount).", param: "n")
        }
        if let prompt = request.prompt, prompt.count > model.maxPromptLength {
            throw AfterimageError.invalidPayload(
                "'prompt' is \(prompt.count) characters; \(model.id) accepts at most \(model.maxPromptLength).",
                param: "prompt"
            )
        }
        if let quality = request.fields["quality"]?.stringValue, !model.qualities.isEmpty, !model.qualities.contains(quality) {
            throw AfterimageError.invalidPayload(
                "'quality' '\(quality)' is not allowed for \(model.id) (allowed: \(model.qualities.joined(separator: ", "))).",
                param: "quality"
            )
        }
        if let style = request.fields["style"]?.stringValue, !model.styles.contains(style) {
            let allowed = model.styles.isEmpty ? "this model takes no style" : "allowed: \(model.styles.joined(separator: ", "))"
            throw AfterimageError.invalidPayload("'style' '\(style)' is not allowed for \(model.id) (\(allowed)).", param: "style")
        }
    }
}
