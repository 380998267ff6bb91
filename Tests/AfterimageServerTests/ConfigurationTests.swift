import AfterimageServer
import Foundation
import AfterimagePostgres
import Testing

@Suite struct ConfigurationTests {
    @Test func shippedConfigLoads() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Config/afterimage.yaml").path
        let configuration = try ConfigurationLoader.load(path: path, environment: [:])
        #expect(configuration.models.map(\.id) == ["gpt-image-2", "gpt-image-1.5", "gpt-image-1", "gpt-image-1-mini", "dall-e-3", "dall-e-2"])
        #expect(configuration.server.maxBodyBytes == 50 * 1024 * 1024)
        #expect(configuration.cache.annMinEntries == 20_000 && configuration.cache.annEfSearch == 100)
        let tuned = try ConfigurationLoader.parse(yaml: "cache:\n  index:\n    ef_search: 400\n", environment: [:])
        #expect(tuned.cache.annEfSearch == 400)
        #expect(configuration.cache.indexSnapshots, "the example keeps graph snapshots")
        #expect(try !ConfigurationLoader.parse(yaml: "cache:\n  index:\n    snapshots: false\n", environment: [:]).cache.indexSnapshots)
    }

    @Test func environmentOverrides() throws {
        let configuration = try ConfigurationLoader.parse(yaml: "server:\n  port: 1234\n", environment: [
            "AFTERIMAGE_PORT": "4321", "AFTERIMAGE_HOST": "0.0.0.0", "AFTERIMAGE_DATA_DIR": "/tmp/x",
            "AFTERIMAGE_UPSTREAM_BASE_URL": "http://127.0.0.1:9000/v1", "OPENAI_API_KEY": "sk-up",
            "AFTERIMAGE_ADMIN_KEY": "adm", "AFTERIMAGE_PUBLIC_BASE_URL": "https://img.example.test/",
        ])
        #expect(configuration.server.port == 4321)
        #expect(configuration.server.host == "0.0.0.0")
        #expect(configuration.dataDirectory == "/tmp/x")
        #expect(configuration.providers["openai"]?.baseURL == "http://127.0.0.1:9000/v1")
        #expect(configuration.providers["openai"]?.apiKey == "sk-up")
        #expect(configuration.adminKey == "adm")
        #expect(configuration.publicBaseURL == "https://img.example.test")
    }

    @Test func defaultPublicBaseURLUsesHostAndPort() throws {
        let configuration = try ConfigurationLoader.parse(yaml: "", environment: ["AFTERIMAGE_PORT": "8081"])
        #expect(configuration.publicBaseURL == "http://127.0.0.1:8081")
    }

    @Test(arguments: [
        ("server:\n  port: 70000\n", "server.port"),
        ("server:\n  prot: 8080\n", "server.prot"),
        ("upstream:\n  retry:\n    max_attempts: zero\n", "upstream.retry.max_attempts"),
        ("upstream:\n  cooldown:\n    failures: -1\n", "upstream.cooldown.failures"),
        ("upstream:\n  cooldown:\n    failures: 1e300\n", "upstream.cooldown.failures"),
        ("upstream:\n  cooldown:\n    seconds: 0\n", "upstream.cooldown.seconds"),
        ("upstream:\n  cooldown:\n    seconds: 99999999999999999999\n", "upstream.cooldown.seconds"),
        ("upstream:\n  cooldown:\n    minutes: 5\n", "upstream.cooldown.minutes"),
        ("models:\n  - id: x\n    sizes: [big]\n", "models[0].sizes[0]"),
        ("models:\n  - id: x\n    sizes: [auto]\n    max_n: 11\n", "models[0].max_n"),
        ("models:\n  - sizes: [auto]\n", "models[0].id"),
        ("providers:\n  other:\n    base_url: ftp://x\n", "providers.other.base_url"),
        ("default_provider: nope\n", "default_provider"),
        ("log_level: loud\n", "log_level"),
        ("server: [1, 2\n", "(file)"),
        ("cache:\n  max_entries: 0\n", "cache.max_entries"),
        ("cache:\n  namespaces:\n    team-a:\n      threshold: 2\n", "cache.namespaces.team-a.threshold"),
        ("cache:\n  namespaces:\n    team-a:\n      ttl: 5\n", "cache.namespaces.team-a.ttl"),
        ("server:\n  max_inflight_body_bytes: 9223372036854775807\n", "server.max_inflight_body_bytes"),
        ("server:\n  max_inflight_body_bytes: 1e300\n", "server.max_inflight_body_bytes"),
        ("server:\n  idle_timeout_seconds: 20\n", "server.body_memory_wait_seconds"),
        ("server:\n  body_memory_wait_seconds: -1\n", "server.body_memory_wait_seconds"),
        ("storage:\n  backend: mysql\n", "storage.backend"),
        ("storage:\n  backend: postgres\n", "storage.postgres.url"),
        ("storage:\n  backend: postgres\n  postgres: {url: 'http://x/db'}\n", "storage.postgres.url"),
        ("storage:\n  postgres: {url: 'postgres://u@h/db', tls: maybe}\n", "storage.postgres.tls"),
        ("storage:\n  postgres: {url: 'postgres://u@h/db', pool_size: 0}\n", "storage.postgres.pool_size"),
        ("storage:\n  postgres: {uri: 'postgres://u@h/db'}\n", "storage.postgres.uri"),
        ("storage:\n  postgres: {url: 'postgres://u@h/db', timeout_ms: 0}\n", "storage.postgres.timeout_ms"),
        ("storage:\n  postgres: {url: 'postgres://u@h/db', timeout_ms: 99999999999999999999}\n", "storage.postgres.timeout_ms"),
        ("files:\n  backend: ftp\n", "files.backend"),
        ("files:\n  disk_cache_bytes: 9223372036854775807\n", "files.disk_cache_bytes"),
        ("cache:\n  index:\n    ann_min_entries: -1\n", "cache.index.ann_min_entries"),
        ("cache:\n  index:\n    ann_min_entries: 99999999999999\n", "cache.index.ann_min_entries"),
        ("cache:\n  index:\n    ef_search: 7\n", "cache.index.ef_search"),
        ("cache:\n  index:\n    ef_search: 1000000\n", "cache.index.ef_search"),
        ("cache:\n  index:\n    snapshots: maybe\n", "cache.index.snapshots"),
        ("cache:\n  embedder:\n    precision: int4\n", "cache.embedder.precision"),
        ("cache:\n  embedder:\n    precision: [bfloat16]\n", "cache.embedder.precision"),
        ("cache:\n  index:\n    ef: 5\n", "cache.index.ef"),
        ("cache:\n  guard:\n    senses: 0\n", "cache.guard.senses"),
        ("cache:\n  guard:\n    senses: 100000\n", "cache.guard.senses"),
        ("cache:\n  guard:\n    hypernym_depth: 99\n", "cache.guard.hypernym_depth"),
        ("cache:\n  guard:\n    hypernym_depth: -1\n", "cache.guard.hypernym_depth"),
        ("cache:\n  guard:\n    one_sided_verbs: sometimes\n", "cache.guard.one_sided_verbs"),
        ("cache:\n  guard:\n    wordnet_dir: [a, b]\n", "cache.guard.wordnet_dir"),
    ])
    func invalidConfigNamesTheKey(yaml: String, key: String) {
        #expect {
            _ = try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        } throws: { error in
            (error as? ConfigurationError)?.key == key
        }
    }

    @Test func cacheLimitsAndNamespaceOverrides() throws {
        let yaml = """
            cache:
              max_entries: 500
              max_bytes: 1048576
              sweep_interval_seconds: 30
              namespaces:
                team-a: {threshold: 0.93, ttl_seconds: 600}
                team-b: {ttl_seconds: 60}
            """
        let cache = try ConfigurationLoader.parse(yaml: yaml, environment: [:]).cache
        #expect(cache.maxEntries == 500 && cache.maxBytes == 1_048_576 && cache.sweepIntervalSeconds == 30)
        #expect(cache.threshold(for: "team-a") == 0.93 && cache.ttlSeconds(for: "team-a") == 600)
        #expect(cache.threshold(for: "team-b") == 0.60 && cache.ttlSeconds(for: "team-b") == 60)
        #expect(cache.threshold(for: "anyone") == 0.60 && cache.ttlSeconds(for: "anyone") == 30 * 86_400)
    }

    @Test func invalidPortEnvironmentIsNamed() {
        #expect(throws: ConfigurationError.self) {
            _ = try ConfigurationLoader.parse(yaml: "", environment: ["AFTERIMAGE_PORT": "eighty"])
        }
    }

    @Test func postgresSettingsComeFromTheFileAndTheEnvironment() throws {
        let yaml = "storage:\n  backend: postgres\n  postgres: {pool_size: 4, tls: require}\n"
        let configuration = try ConfigurationLoader.parse(yaml: yaml, environment: ["AFTERIMAGE_DATABASE_URL": "postgres://app:s3cret@db.internal:6543/images"])
        #expect(configuration.storage.backend == .postgres)
        #expect(configuration.storage.postgres == PostgresSettings(url: "postgres://app:s3cret@db.internal:6543/images", poolSize: 4, tls: .require))
        do {
            _ = try ConfigurationLoader.parse(yaml: "storage:\n  backend: postgres\n  postgres: {url: 'postgres://app:s3cret@db.internal:99999/images'}\n", environment: [:])
            Issue.record("a port out of range is refused")
        } catch let error as ConfigurationError {
            #expect(error.key == "storage.postgres.url" && !error.description.contains("s3cret"))
        }
        // Images follow the store (a foreign key ties cache rows to image rows in PostgreSQL).
        #expect(configuration.files.backend == .postgres)
        let url = ["AFTERIMAGE_DATABASE_URL": "postgres://app@db.internal/images"]
        for yaml in ["storage: {backend: postgres}\nfiles: {backend: local}\n", "files: {backend: postgres}\n"] {
            #expect(throws: ConfigurationError.self) { try ConfigurationLoader.parse(yaml: yaml, environment: url) }
        }
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.parse(yaml: "files: {disk_cache_bytes: -1}\n", environment: [:]) }
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.parse(yaml: "", environment: ["AFTERIMAGE_STORAGE_BACKEND": "mysql"]) }
    }
}
