import AfterimageCore

/// Resolves model ids to capability entries and providers: `provider/model` picks the provider,
/// a plain id resolves through the configured model list.
public struct ModelRouter: Sendable {
    let models: [ModelCapability]
    let configuration: AfterimageConfiguration

    public init(configuration: AfterimageConfiguration) {
        self.configuration = configuration
        self.models = configuration.models
    }

    /// The capability entry for an id, or nil when unknown.
    public func capability(for id: String) -> ModelCapability? {
        if let slash = id.firstIndex(of: "/") {
            let provider = String(id[..<slash])
            let name = String(id[id.index(after: slash)...])
            if let entry = models.first(where: { $0.provider == provider && $0.id == name }) { return entry }
        }
        return models.first(where: { $0.id == id })
    }

    /// The entry for `id` if it exists and `key` may use it; otherwise 404 `model_not_found`.
    public func resolve(_ id: String, for key: VirtualKey, param: String = "model") throws -> ModelCapability {
        guard let model = capability(for: id), key.allows(model: model) else {
            throw AfterimageError.modelNotFound(id, param: param)
        }
        return model
    }

    /// Models `key` may use, in configuration order.
    public func models(for key: VirtualKey) -> [ModelCapability] {
        models.filter { key.allows(model: $0) }
    }

    /// The provider endpoint of a model.
    public func endpoint(for model: ModelCapability) throws -> ProviderEndpoint {
        guard let endpoint = configuration.endpoint(provider: model.provider) else {
            throw AfterimageError.internalError("Provider '\(model.provider)' of model '\(model.id)' is not configured.")
        }
        return endpoint
    }
}
