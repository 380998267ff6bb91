import AfterimageAlerts
import AfterimageCache
import AfterimageCore
import AfterimagePostgres
import AfterimageUpstream
import AfterimageEmbedding
import Foundation
import Yams

/// Reads `AfterimageConfiguration` from YAML and the environment and checks it.
public enum ConfigurationLoader {
    /// Loads the file named by `AFTERIMAGE_CONFIG` (or `path`, or `Config/afterimage.yaml` when present),
    /// then applies environment overrides.
    public static func load(path: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> AfterimageConfiguration {
        let chosen = environment["AFTERIMAGE_CONFIG"] ?? path
        var text = ""
        if let chosen {
            guard let data = FileManager.default.contents(atPath: chosen) else {
                throw ConfigurationError(key: "AFTERIMAGE_CONFIG", problem: "cannot read file '\(chosen)'")
            }
            text = String(decoding: data, as: UTF8.self)
        }
        return try parse(yaml: text, environment: environment)
    }

    /// Parses YAML text (empty means all defaults) and applies environment overrides.
    public static func parse(yaml: String, environment: [String: String]) throws -> AfterimageConfiguration {
        let document: Any?
        do {
            document = try Yams.load(yaml: yaml)
        } catch {
            throw ConfigurationError(key: "(file)", problem: "not valid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
        var root = try YAMLSection(path: "", value: document)
        var config = AfterimageConfiguration()

        var server = try root.section("server")
        config.server.host = try server.string("host") ?? config.server.host
        config.server.port = try server.int("port", range: 0...65535) ?? config.server.port
        config.server.publicBaseURL = try server.string("public_base_url")
        config.server.maxBodyBytes = try server.int("max_body_bytes", range: 1024...(4 << 30)) ?? config.server.maxBodyBytes
        config.server.maxJSONBytes = try server.int("max_json_bytes", range: 1024...(64 << 20)) ?? config.server.maxJSONBytes
        config.server.maxPromptBytes = try server.int("max_prompt_bytes", range: 1...1_000_000) ?? config.server.maxPromptBytes
        config.server.idleTimeoutSeconds = try server.int("idle_timeout_seconds", range: 0...3600) ?? config.server.idleTimeoutSeconds
        config.server.minBodyBytesPerSecond = try server.int("min_body_bytes_per_second", range: 0...(1 << 30)) ?? config.server.minBodyBytesPerSecond
        config.server.unauthenticatedRPM = try server.int("unauthenticated_rpm", range: 0...1_000_000) ?? config.server.unauthenticatedRPM
        config.server.maxInflightBodyBytes = try server.int("max_inflight_body_bytes", range: (1 << 20)...(64 << 30)) ?? config.server.maxInflightBodyBytes
        config.server.bodyMemoryWaitSeconds = try server.int("body_memory_wait_seconds", range: 1...3600) ?? config.server.bodyMemoryWaitSeconds
        // A request waiting for body memory sends no bytes: the idle timeout would cut it without
        // an answer, so the wait must end first (with 503 and Retry-After).
        if config.server.idleTimeoutSeconds > 0, config.server.bodyMemoryWaitSeconds >= config.server.idleTimeoutSeconds {
            throw ConfigurationError(
                key: "server.body_memory_wait_seconds",
                problem: "must be below server.idle_timeout_seconds (\(config.server.idleTimeoutSeconds)), got \(config.server.bodyMemoryWaitSeconds)"
            )
        }
        try server.finish()

        var metrics = try root.section("metrics")
        if let auth = try metrics.string("auth") {
            guard let value = AfterimageConfiguration.Metrics.Auth(rawValue: auth) else {
                throw ConfigurationError(key: "metrics.auth", problem: "must be none, admin or token")
            }
            config.metrics.auth = value
        }
        config.metrics.tokenEnv = try metrics.string("token_env") ?? config.metrics.tokenEnv
        try metrics.finish()

        var tracing = try root.section("tracing")
        config.tracing = try TracingSettings.parse(&tracing)
        var alerts = try root.section("alerts")
        config.alerts = try AlertSettings.parse(&alerts, environment: environment)

        var storage = try root.section("storage")
        if let backend = try storage.string("backend") {
            guard let value = AfterimageConfiguration.Storage.Backend(rawValue: backend) else {
                throw ConfigurationError(key: "storage.backend", problem: "must be sqlite or postgres")
            }
            config.storage.backend = value
        }
        var postgres = try storage.section("postgres")
        if !postgres.values.isEmpty {
            var settings = PostgresSettings(url: try postgres.string("url") ?? "")
            settings.poolSize = try postgres.int("pool_size", range: 1...1000) ?? settings.poolSize
            settings.operationTimeoutMs = try postgres.int("timeout_ms", range: 100...600_000) ?? settings.operationTimeoutMs
            if let tls = try postgres.string("tls") {
                guard let mode = PostgresSettings.TLSMode(rawValue: tls) else {
                    throw ConfigurationError(key: "storage.postgres.tls", problem: "must be disable, prefer or require")
                }
                settings.tls = mode
            }
            config.storage.postgres = settings
        }
        try postgres.finish()
        try storage.finish()

        var streaming = try root.section("streaming")
        config.streamingMaxCaptureBytes = try streaming.int("max_capture_bytes", range: 1024...(4 << 30)) ?? config.streamingMaxCaptureBytes
        try streaming.finish()

        config.dataDirectory = try root.string("data_dir") ?? config.dataDirectory
        config.adminKeyEnv = try root.string("admin_key_env") ?? config.adminKeyEnv
        config.logLevel = try root.string("log_level") ?? config.logLevel
        config.pricingFile = try root.string("pricing_file") ?? config.pricingFile
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        guard levels.contains(config.logLevel) else {
            throw ConfigurationError(key: "log_level", problem: "must be one of \(levels.joined(separator: ", "))")
        }

        var files = try root.section("files")
        config.files.urlTTLSeconds = try files.int("url_ttl_seconds", range: 1...(366 * 86_400)) ?? config.files.urlTTLSeconds
        config.files.signingSecretEnv = try files.string("signing_secret_env") ?? config.files.signingSecretEnv
        if let backend = try files.string("backend") {
            guard let value = AfterimageConfiguration.Files.Backend(rawValue: backend) else {
                throw ConfigurationError(key: "files.backend", problem: "must be local or postgres")
            }
            config.files.backend = value
        }
        config.files.diskCacheBytes = try files.int("disk_cache_bytes", range: 0...(1 << 40)) ?? config.files.diskCacheBytes
        try files.finish()

        var upstream = try root.section("upstream")
        let timeouts = 1...3_600_000
        config.upstream.connectTimeoutMs = try upstream.int("connect_timeout_ms", range: timeouts) ?? config.upstream.connectTimeoutMs
        config.upstream.readTimeoutMs = try upstream.int("read_timeout_ms", range: timeouts) ?? config.upstream.readTimeoutMs
        config.upstream.requestTimeoutMs = try upstream.int("request_timeout_ms", range: timeouts) ?? config.upstream.requestTimeoutMs
        config.upstream.downloadTimeoutMs = try upstream.int("download_timeout_ms", range: timeouts) ?? config.upstream.downloadTimeoutMs
        config.upstream.maxResponseBytes = try upstream.int("max_response_bytes", range: 1024...(4 << 30)) ?? config.upstream.maxResponseBytes
        var retry = try upstream.section("retry")
        config.upstream.maxAttempts = try retry.int("max_attempts", range: 1...20) ?? config.upstream.maxAttempts
        config.upstream.initialBackoffMs = try retry.int("initial_backoff_ms", range: 0...600_000) ?? config.upstream.initialBackoffMs
        config.upstream.maxBackoffMs = try retry.int("max_backoff_ms", range: 0...600_000) ?? config.upstream.maxBackoffMs
        config.upstream.maxTotalMs = try retry.int("max_total_ms", range: 0...3_600_000) ?? config.upstream.maxTotalMs
        try retry.finish()
        var cooldown = try upstream.section("cooldown")
        config.upstream.cooldown.failures = try cooldown.int("failures", range: UpstreamCooldown.Settings.failureRange) ?? config.upstream.cooldown.failures
        config.upstream.cooldown.seconds = try cooldown.int("seconds", range: UpstreamCooldown.Settings.secondsRange) ?? config.upstream.cooldown.seconds
        try cooldown.finish()
        config.upstream.preferB64JSON = try upstream.bool("prefer_b64_json") ?? config.upstream.preferB64JSON
        var download = try upstream.section("image_download")
        config.upstream.imageDownload.allowHTTP = try download.bool("allow_http") ?? false
        config.upstream.imageDownload.allowPrivateNetworks = try download.bool("allow_private_networks") ?? false
        config.upstream.imageDownload.maxImageBytes = try download.int("max_image_bytes", range: 1024...(1 << 30)) ?? config.upstream.imageDownload.maxImageBytes
        try download.finish()
        try upstream.finish()

        config.defaultProvider = try root.string("default_provider") ?? config.defaultProvider
        var providersSection = try root.section("providers")
        if !providersSection.values.isEmpty {
            var providers = [String: AfterimageConfiguration.Provider]()
            for name in providersSection.values.keys.sorted() {
                var entry = try providersSection.section(name)
                guard let baseURL = try entry.string("base_url") else {
                    throw ConfigurationError(key: entry.keyPath("base_url"), problem: "is required")
                }
                try checkURL(baseURL, key: entry.keyPath("base_url"))
                let hosts = try entry.strings("image_hosts")
                if let hosts, hosts.contains(where: { $0.isEmpty || $0.contains("/") || $0 == "*" || $0 == "*." }) {
                    throw ConfigurationError(key: entry.keyPath("image_hosts"), problem: "entries must be host, host:port or *.suffix")
                }
                providers[name] = .init(baseURL: baseURL, apiKeyEnv: try entry.string("api_key_env") ?? "OPENAI_API_KEY", imageHosts: hosts)
                try entry.finish()
            }
            try providersSection.finish()
            config.providers = providers
        }
        guard config.providers[config.defaultProvider] != nil else {
            throw ConfigurationError(key: "default_provider", problem: "'\(config.defaultProvider)' is not a configured provider")
        }

        var cache = try root.section("cache")
        config.cache.enabled = try cache.bool("enabled") ?? config.cache.enabled
        if let threshold = try cache.double("threshold") {
            guard (0...1).contains(threshold) else { throw ConfigurationError(key: "cache.threshold", problem: "must be between 0 and 1") }
            config.cache.threshold = Float(threshold)
        }
        config.cache.candidates = try cache.int("candidates", range: 1...100) ?? config.cache.candidates
        var indexSection = try cache.section("index")
        config.cache.annMinEntries = try indexSection.int("ann_min_entries", range: 0...1_000_000_000) ?? config.cache.annMinEntries
        config.cache.annEfSearch = try indexSection.int("ef_search", range: 8...1_000) ?? config.cache.annEfSearch
        config.cache.indexSnapshots = try indexSection.bool("snapshots") ?? config.cache.indexSnapshots
        try indexSection.finish()
        config.cache.ttlSeconds = try cache.int("ttl_seconds", range: 1...(3650 * 86_400)) ?? config.cache.ttlSeconds
        config.cache.maxEntries = try cache.int("max_entries", range: 1...Int(Int32.max)) ?? config.cache.maxEntries
        config.cache.maxBytes = try cache.int("max_bytes", range: 1...Int.max) ?? config.cache.maxBytes
        config.cache.sweepIntervalSeconds = try cache.int("sweep_interval_seconds", range: 1...86_400) ?? config.cache.sweepIntervalSeconds
        var namespaces = try cache.section("namespaces")
        for name in namespaces.values.keys.sorted() {
            var section = try namespaces.section(name)
            var override = CacheSettings.NamespaceOverride()
            if let threshold = try section.double("threshold") {
                guard (0...1).contains(threshold) else { throw ConfigurationError(key: section.keyPath("threshold"), problem: "must be between 0 and 1") }
                override.threshold = Float(threshold)
            }
            override.ttlSeconds = try section.int("ttl_seconds", range: 1...(3650 * 86_400))
            override.keepPrompts = try section.bool("keep_prompts")
            try section.finish()
            config.cache.namespaces[name] = override
        }
        var lookupLog = try cache.section("lookup_log")
        config.cache.lookupLogEnabled = try lookupLog.bool("enabled") ?? config.cache.lookupLogEnabled
        config.cache.lookupLogMaxRows = try lookupLog.int("max_rows", range: 1...100_000_000) ?? config.cache.lookupLogMaxRows
        if let rate = try lookupLog.double("sample_rate") {
            guard (0...1).contains(rate) else { throw ConfigurationError(key: "cache.lookup_log.sample_rate", problem: "must be between 0 and 1") }
            config.cache.lookupLogSampleRate = rate
        }
        config.cache.keepPrompts = try lookupLog.bool("keep_prompts") ?? config.cache.keepPrompts
        try lookupLog.finish()
        var guardSection = try cache.section("guard")
        config.cache.vocabularyDirectory = try guardSection.string("vocabulary_dir") ?? config.cache.vocabularyDirectory
        config.cache.wordNetDirectory = try guardSection.string("wordnet_dir") ?? config.cache.wordNetDirectory
        config.cache.lexiconSenses = try guardSection.int("senses", range: 1...20) ?? config.cache.lexiconSenses
        config.cache.hypernymDepth = try guardSection.int("hypernym_depth", range: 0...4) ?? config.cache.hypernymDepth
        config.cache.oneSidedVerbs = try guardSection.bool("one_sided_verbs") ?? config.cache.oneSidedVerbs
        if let similarity = try guardSection.double("word_similarity") {
            guard (0...1).contains(similarity) else { throw ConfigurationError(key: "cache.guard.word_similarity", problem: "must be between 0 and 1") }
            config.cache.wordSimilarity = Float(similarity)
        }
        try guardSection.finish()
        var embedder = try cache.section("embedder")
        if let kind = try embedder.string("kind") {
            guard let value = EmbedderSettings.Kind(rawValue: kind) else {
                throw ConfigurationError(key: "cache.embedder.kind", problem: "must be minilm, openai or hashing, got '\(kind)'")
            }
            config.embedder.kind = value
        }
        config.embedder.modelDirectory = try embedder.string("model_dir") ?? config.embedder.modelDirectory
        if let baseURL = try embedder.string("base_url") {
            try checkURL(baseURL, key: "cache.embedder.base_url")
            config.embedder.baseURL = baseURL
        }
        config.embedder.model = try embedder.string("model") ?? config.embedder.model
        config.embedder.apiKeyEnv = try embedder.string("api_key_env") ?? config.embedder.apiKeyEnv
        config.embedder.dimension = try embedder.int("dimension", range: 8...65_536) ?? config.embedder.dimension
        config.embedder.threads = try embedder.int("threads", range: 1...64) ?? config.embedder.threads
        if let precision = try embedder.string("precision") {
            guard let value = WeightPrecision(rawValue: precision) else {
                throw ConfigurationError(key: "cache.embedder.precision", problem: "must be bfloat16 or float32, got '\(precision.prefix(40))'")
            }
            config.embedder.precision = value
        }
        try embedder.finish()
        try cache.finish()

        if let models = try root.list("models") {
            config.models = try models.enumerated().map { index, value in
                try parseModel(value, path: "models[\(index)]", defaultProvider: config.defaultProvider, providers: config.providers)
            }
        } else {
            config.models = DefaultModels.all(provider: config.defaultProvider)
        }
        try root.finish()

        try applyEnvironment(environment, to: &config)
        return config
    }

    static func parseModel(_ value: Any, path: String, defaultProvider: String, providers: [String: AfterimageConfiguration.Provider]) throws -> ModelCapability {
        var entry = try YAMLSection(path: path, value: value)
        guard let id = try entry.string("id"), !id.isEmpty else { throw ConfigurationError(key: entry.keyPath("id"), problem: "is required") }
        let provider = try entry.string("provider") ?? defaultProvider
        guard providers[provider] != nil else {
            throw ConfigurationError(key: entry.keyPath("provider"), problem: "'\(provider)' is not a configured provider")
        }
        var sizeRule: SizeRule?
        if entry.values["size_rule"] != nil {
            var rule = try entry.section("size_rule")
            sizeRule = SizeRule(
                multipleOf: try rule.int("multiple_of", range: 1...1024) ?? 1,
                minEdge: try rule.int("min_edge", range: 1...100_000) ?? 1,
                maxEdge: try rule.int("max_edge", range: 1...100_000) ?? 100_000,
                minPixels: try rule.int("min_pixels", range: 1...Int(Int32.max)) ?? 1,
                maxPixels: try rule.int("max_pixels", range: 1...Int(Int32.max)) ?? Int(Int32.max),
                maxAspectRatio: try rule.double("max_aspect_ratio") ?? 1_000
            )
            try rule.finish()
        }
        let sizes = try entry.strings("sizes") ?? []
        for (index, size) in sizes.enumerated() where size != "auto" && ModelCapability.parseSize(size) == nil {
            throw ConfigurationError(key: "\(entry.keyPath("sizes"))[\(index)]", problem: "'\(size)' is not WIDTHxHEIGHT or auto")
        }
        if sizes.isEmpty && sizeRule == nil {
            throw ConfigurationError(key: entry.keyPath("sizes"), problem: "give sizes or a size_rule")
        }
        let model = ModelCapability(
            id: id, provider: provider, upstreamModel: try entry.string("upstream_model"),
            sizes: sizes, sizeRule: sizeRule,
            maxN: try entry.int("max_n", range: 1...10) ?? 1,
            maxPromptLength: try entry.int("max_prompt_length", range: 1...1_000_000) ?? 32_000,
            qualities: try entry.strings("qualities") ?? [],
            styles: try entry.strings("styles") ?? [],
            acceptsResponseFormat: try entry.bool("accepts_response_format") ?? true,
            supportsEdits: try entry.bool("supports_edits") ?? false,
            maxEditImages: try entry.int("max_edit_images", range: 0...16) ?? 16,
            supportsStreaming: try entry.bool("streaming")
        )
        try entry.finish()
        return model
    }

    static func applyEnvironment(_ environment: [String: String], to config: inout AfterimageConfiguration) throws {
        if let host = environment["AFTERIMAGE_HOST"], !host.isEmpty { config.server.host = host }
        if let port = environment["AFTERIMAGE_PORT"], !port.isEmpty {
            guard let value = Int(port), (0...65535).contains(value) else {
                throw ConfigurationError(key: "AFTERIMAGE_PORT", problem: "must be an integer between 0 and 65535, got '\(port)'")
            }
            config.server.port = value
        }
        if let dataDirectory = environment["AFTERIMAGE_DATA_DIR"], !dataDirectory.isEmpty { config.dataDirectory = dataDirectory }
        if let backend = environment["AFTERIMAGE_STORAGE_BACKEND"], !backend.isEmpty {
            guard let value = AfterimageConfiguration.Storage.Backend(rawValue: backend) else {
                throw ConfigurationError(key: "AFTERIMAGE_STORAGE_BACKEND", problem: "must be sqlite or postgres")
            }
            config.storage.backend = value
        }
        if let url = environment["AFTERIMAGE_DATABASE_URL"], !url.isEmpty {
            var settings = config.storage.postgres ?? PostgresSettings(url: url)
            settings.url = url
            config.storage.postgres = settings
        }
        if config.storage.backend == .postgres {
            guard let settings = config.storage.postgres, !settings.url.isEmpty else {
                throw ConfigurationError(key: "storage.postgres.url", problem: "is required with storage.backend: postgres (or set AFTERIMAGE_DATABASE_URL)")
            }
            do { _ = try settings.endpoint() } catch let error as AfterimageError {
                // The problem, never the URL itself (it may hold a password).
                throw ConfigurationError(key: "storage.postgres.url", problem: error.message)
            }
        }
        // Images live beside the cache rows that name them (a foreign key in PostgreSQL).
        let files = config.files.backend ?? (config.storage.backend == .postgres ? .postgres : .local)
        guard (files == .postgres) == (config.storage.backend == .postgres) else {
            throw ConfigurationError(
                key: "files.backend",
                problem: "\(files.rawValue) cannot go with storage.backend: \(config.storage.backend.rawValue) (use local with sqlite, postgres with postgres)"
            )
        }
        config.files.backend = files
        if let pricing = environment["AFTERIMAGE_PRICING_FILE"], !pricing.isEmpty { config.pricingFile = pricing }
        if let base = environment["AFTERIMAGE_PUBLIC_BASE_URL"], !base.isEmpty {
            try checkURL(base, key: "AFTERIMAGE_PUBLIC_BASE_URL")
            config.server.publicBaseURL = base
        }
        if let base = environment["AFTERIMAGE_UPSTREAM_BASE_URL"], !base.isEmpty {
            try checkURL(base, key: "AFTERIMAGE_UPSTREAM_BASE_URL")
            config.providers[config.defaultProvider]?.baseURL = base
        }
        for (name, provider) in config.providers {
            config.providers[name]?.apiKey = environment[provider.apiKeyEnv].flatMap { $0.isEmpty ? nil : $0 }
        }
        if let modelDirectory = environment["AFTERIMAGE_MODEL_DIR"], !modelDirectory.isEmpty { config.embedder.modelDirectory = modelDirectory }
        config.embedder.apiKey = environment[config.embedder.apiKeyEnv].flatMap { $0.isEmpty ? nil : $0 }
        config.adminKey = environment[config.adminKeyEnv].flatMap { $0.isEmpty ? nil : $0 }
        config.metrics.token = environment[config.metrics.tokenEnv].flatMap { $0.isEmpty ? nil : $0 }
        if config.metrics.auth == .token, config.metrics.token == nil {
            throw ConfigurationError(key: "metrics.auth", problem: "is 'token' but \(config.metrics.tokenEnv) is not set")
        }
        config.signingSecret = environment[config.files.signingSecretEnv].flatMap { $0.isEmpty ? nil : $0 }
        if let publicBaseURL = config.server.publicBaseURL { try checkURL(publicBaseURL, key: "server.public_base_url") }
    }

    static func checkURL(_ value: String, key: String) throws {
        guard let url = URL(string: value), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw ConfigurationError(key: key, problem: "'\(value)' is not an http(s) URL")
        }
    }
}
