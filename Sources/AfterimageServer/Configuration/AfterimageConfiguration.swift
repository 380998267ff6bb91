import AfterimageCache
import AfterimageCore
import AfterimageEmbedding
import AfterimagePostgres
import AfterimageUpstream
import AfterimageAlerts
import Foundation

/// Everything the server reads from `Config/afterimage.yaml` and the environment, typed and with defaults.
/// Every key is documented in the README and in the shipped config file.
public struct AfterimageConfiguration: Sendable {
    /// `server.*`: where to listen and what to accept.
    public struct Server: Sendable {
        /// `server.host` (string, default `127.0.0.1`; env `AFTERIMAGE_HOST`).
        public var host = "127.0.0.1"
        /// `server.port` (integer, default `8080`; env `AFTERIMAGE_PORT`; 0 picks a free port).
        public var port = 8080
        /// `server.public_base_url` (string, default `http://HOST:PORT`; env `AFTERIMAGE_PUBLIC_BASE_URL`).
        public var publicBaseURL: String?
        /// `server.max_body_bytes` (integer, default 52428800 = 50 MB): multipart (edit) bodies.
        public var maxBodyBytes = 50 * 1024 * 1024
        /// `server.max_json_bytes` (integer, default 1048576 = 1 MiB): JSON (generation) bodies.
        public var maxJSONBytes = 1 << 20
        /// `server.max_prompt_bytes` (integer, default 32000): a prompt's UTF-8 size, whatever
        /// the model's character limit (combining marks cannot hide bytes).
        public var maxPromptBytes = 32_000
        /// `server.idle_timeout_seconds` (integer, default 60): a connection with no request
        /// bytes moving for this long is closed.
        public var idleTimeoutSeconds = 60
        /// `server.min_body_bytes_per_second` (integer, default 8192): after the first 10 s, a body
        /// arriving slower than this on average is refused (408).
        public var minBodyBytesPerSecond = 8192
        /// `server.unauthenticated_rpm` (integer, default 600; 0 = off): requests without a valid
        /// key per client IP per minute before 429.
        public var unauthenticatedRPM = 600
        /// `server.max_inflight_body_bytes` (integer, default 402653184 = 384 MiB): memory all
        /// request bodies together may hold; each reserves twice its `Content-Length` (or twice
        /// its limit when none is declared) before it is read, and waits otherwise.
        public var maxInflightBodyBytes = 384 << 20
        /// `server.body_memory_wait_seconds` (integer, default 30; below the idle timeout): how
        /// long a request waits for that memory before 503 `server_busy`.
        public var bodyMemoryWaitSeconds = 30
        public init() {}
    }

    /// `metrics.*`: who may read `/metrics`.
    public struct Metrics: Sendable {
        public enum Auth: String, Sendable { case none, admin, token }
        /// `metrics.auth` (`none | admin | token`, default `admin`): `admin` wants the admin key,
        /// `token` the value of the env var `metrics.token_env`.
        public var auth = Auth.admin
        /// `metrics.token_env` (string, default `AFTERIMAGE_METRICS_TOKEN`).
        public var tokenEnv = "AFTERIMAGE_METRICS_TOKEN"
        /// The token read from `tokenEnv`.
        public var token: String?
        public init() {}
    }

    /// `files.*`: the proxy's signed image URLs.
    public struct Files: Sendable {
        /// `files.url_ttl_seconds` (integer, default 3600).
        public var urlTTLSeconds = 3600
        /// `files.signing_secret_env` (string, default `AFTERIMAGE_SIGNING_SECRET`): env var holding the
        /// HMAC secret; when unset, a random secret is created once in `{data_dir}/signing.key`.
        public var signingSecretEnv = "AFTERIMAGE_SIGNING_SECRET"
        public enum Backend: String, Sendable, CaseIterable { case local, postgres }
        /// `files.backend` (`local` | `postgres`; default: `local` with the SQLite store, `postgres`
        /// with the PostgreSQL one — images live beside the cache rows that name them).
        public var backend: Backend?
        /// `files.disk_cache_bytes` (integer, default 268435456): the most bytes of images a replica
        /// keeps on local disk after reading them from PostgreSQL (0 turns the copy off).
        public var diskCacheBytes = 256 << 20
        public init() {}
    }

    /// `upstream.*`: timeouts and retries for provider calls.
    public struct Upstream: Sendable {
        /// `upstream.connect_timeout_ms` (integer, default 10000).
        public var connectTimeoutMs = 10_000
        /// `upstream.read_timeout_ms` (integer, default 180000): longest silence while reading.
        public var readTimeoutMs = 180_000
        /// `upstream.request_timeout_ms` (integer, default 300000): one whole call.
        public var requestTimeoutMs = 300_000
        /// `upstream.download_timeout_ms` (integer, default 60000): fetching one image URL.
        public var downloadTimeoutMs = 60_000
        /// `upstream.max_response_bytes` (integer, default 268435456).
        public var maxResponseBytes = 256 * 1024 * 1024
        /// `upstream.retry.max_attempts` (integer, default 3): attempts per model.
        public var maxAttempts = 3
        /// `upstream.retry.initial_backoff_ms` (integer, default 250).
        public var initialBackoffMs = 250
        /// `upstream.retry.max_backoff_ms` (integer, default 8000).
        public var maxBackoffMs = 8_000
        /// `upstream.retry.max_total_ms` (integer, default 60000): time budget per model, waits included.
        public var maxTotalMs = 60_000
        /// `upstream.cooldown.failures` (0-100, default 3; 0 = off) and `upstream.cooldown.seconds`
        /// (1-3600, default 10): a model failing that many times in a row rests that long — skipped
        /// when a request has a fallback, one attempt when not (`UpstreamCooldown`).
        public var cooldown = UpstreamCooldown.Settings()
        /// `upstream.prefer_b64_json` (bool, default true): ask models that accept
        /// `response_format` for `b64_json`, so no upstream URL has to be fetched.
        public var preferB64JSON = true
        /// `upstream.image_download.*`: rules for the image URLs that must still be fetched
        /// (`allow_http` false, `allow_private_networks` false, `max_image_bytes` 64 MiB).
        public var imageDownload = ImageDownloadPolicy()
        public init() {}
    }

    /// `providers.NAME.*`: an OpenAI-compatible API.
    public struct Provider: Sendable, Equatable {
        /// `providers.NAME.base_url` (string, required), e.g. `https://api.openai.com/v1`.
        public var baseURL: String
        /// `providers.NAME.api_key_env` (string, default `OPENAI_API_KEY`): env var holding its key.
        public var apiKeyEnv: String
        /// The key read from `apiKeyEnv` at load time.
        public var apiKey: String?
        /// `providers.NAME.image_hosts` (list, default: the base URL's host, plus OpenAI's image
        /// CDN for api.openai.com): hosts its image URLs may be fetched from.
        public var imageHosts: [String]?
        public init(baseURL: String, apiKeyEnv: String = "OPENAI_API_KEY", apiKey: String? = nil, imageHosts: [String]? = nil) {
            self.baseURL = baseURL
            self.apiKeyEnv = apiKeyEnv
            self.apiKey = apiKey
            self.imageHosts = imageHosts
        }
    }

    /// `storage.*`: where keys, limits, the ledger, cache rows, settings and images live.
    public struct Storage: Sendable {
        public enum Backend: String, Sendable, CaseIterable { case sqlite, postgres }
        /// `storage.backend` (`sqlite` | `postgres`, default `sqlite`).
        public var backend = Backend.sqlite
        /// `storage.postgres.url`, `pool_size` (default 10), `tls` (`disable | prefer | require`,
        /// default `prefer`); env `AFTERIMAGE_DATABASE_URL` for the URL.
        public var postgres: PostgresSettings?
        public init() {}
    }

    public var server = Server()
    public var storage = Storage()
    public var metrics = Metrics()
    /// `tracing.*`: OpenTelemetry traces (default off).
    public var tracing = TracingSettings()
    /// `alerts.*`: webhooks for budgets, key expiry, failovers and false hits (none by default).
    public var alerts = AlertSettings()
    /// `streaming.max_capture_bytes` (integer, default 268435456): most bytes of one stream's
    /// events held back until its images are stored.
    public var streamingMaxCaptureBytes = 256 << 20
    /// `data_dir` (string, default `./data`; env `AFTERIMAGE_DATA_DIR`): SQLite database and image files.
    public var dataDirectory = "./data"
    /// `admin_key_env` (string, default `AFTERIMAGE_ADMIN_KEY`): env var holding the admin API key;
    /// the admin API answers 401 to everything while it is unset.
    public var adminKeyEnv = "AFTERIMAGE_ADMIN_KEY"
    /// The admin key read from `adminKeyEnv`.
    public var adminKey: String?
    /// `pricing_file` (string, default `Config/pricing.yaml`; env `AFTERIMAGE_PRICING_FILE`): model
    /// prices, reloaded when the file changes; a missing file means every cost is null.
    public var pricingFile = "Config/pricing.yaml"
    /// `log_level` (string, default `info`): trace, debug, info, notice, warning, error, critical.
    public var logLevel = "info"
    public var files = Files()
    public var upstream = Upstream()
    /// `default_provider` (string, default `openai`): provider of models that name none.
    public var defaultProvider = "openai"
    /// `providers` (map, default one `openai` provider at `https://api.openai.com/v1`;
    /// env `AFTERIMAGE_UPSTREAM_BASE_URL` overrides the default provider's base URL).
    public var providers: [String: Provider] = ["openai": Provider(baseURL: "https://api.openai.com/v1")]
    /// `models` (list, default the six shipped OpenAI image models): capability entries.
    public var models: [ModelCapability] = DefaultModels.all(provider: "openai")
    /// `cache.*`: the semantic cache's policy (threshold, guard, TTL).
    public var cache = CacheSettings()
    /// `cache.embedder.*`: the prompt embedder (MiniLM in-process by default).
    public var embedder = EmbedderSettings()
    /// The signing secret read from `files.signing_secret_env`, if set.
    public var signingSecret: String?

    public init() {}

    /// `public_base_url`, or `http://HOST:PORT` when unset.
    public var publicBaseURL: String {
        var base = server.publicBaseURL ?? "http://\(server.host):\(server.port)"
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }

    /// The data directory as a file URL.
    public var dataDirectoryURL: URL { URL(fileURLWithPath: dataDirectory, isDirectory: true) }

    /// The provider endpoint (with its key) for a provider name.
    public func endpoint(provider name: String) -> ProviderEndpoint? {
        providers[name].map { ProviderEndpoint(name: name, baseURL: $0.baseURL, apiKey: $0.apiKey, imageHosts: $0.imageHosts) }
    }
}
