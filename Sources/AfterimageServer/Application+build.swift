import AfterimageAlerts
import AfterimageCache
import AfterimageCore
import AfterimageEmbedding
import AfterimageMetering
import AfterimageStorage
import AfterimageTracing
import AfterimageUpstream
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The composition root: builds the whole server from a configuration. `afterimage serve` and the
/// tests call this same function.
public enum AfterimageApp {
    /// Builds the application; `onServerRunning` receives the bound port (useful with port 0),
    /// `onRoutes` every route as `METHOD /path` (tests compare them with the OpenAPI document).
    public static func build(
        configuration: AfterimageConfiguration,
        logger: Logger? = nil,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in },
        onRoutes: ([String]) -> Void = { _ in }
    ) async throws -> some ApplicationProtocol {
        var logger = logger ?? Logger(label: "afterimage")
        if logger.logLevel == .info, let level = Logger.Level(rawValue: configuration.logLevel) { logger.logLevel = level }

        // Before any BLAS call: OpenBLAS's own threads deadlock under concurrent callers, and the
        // embedding lanes (`cache.embedder.threads`) already call it from several threads.
        BLASRuntime.setThreads(1)
        let metrics = ServerMetrics()
        // One server per data directory (budgets and limits live in this process's memory).
        let directoryLock: DataDirectoryLock
        do {
            directoryLock = try DataDirectoryLock(dataDirectory: configuration.dataDirectoryURL)
        } catch let held as DataDirectoryLock.Held {
            throw ConfigurationError(key: "data_dir", problem: held.description)
        }
        // Spans go to the configured OTLP collector (or nowhere: `tracing.enabled` is false by default).
        let (tracer, tracingService) = try TracingBackend.make(configuration.tracing, logger: logger)
        let embedder = TimedEmbedder(base: try EmbedderFactory.make(configuration.embedder), metrics: metrics, tracer: tracer)
        if configuration.storage.backend == .postgres, configuration.signingSecret == nil {
            // Every replica must sign and check image URLs with the same secret.
            throw ConfigurationError(
                key: "files.signing_secret_env",
                problem: "storage.backend: postgres needs one signing secret shared by every replica: set \(configuration.files.signingSecretEnv)"
            )
        }
        let stores = try await Stores.open(configuration, sweepTemporaryFiles: true, logger: logger)
        let blobs = stores.blobs
        let keys = stores.keys
        let upstream = HTTPImageUpstream(settings: .init(
            connectTimeout: .milliseconds(Int64(configuration.upstream.connectTimeoutMs)),
            readTimeout: .milliseconds(Int64(configuration.upstream.readTimeoutMs)),
            requestTimeout: .milliseconds(Int64(configuration.upstream.requestTimeoutMs)),
            maxResponseBytes: configuration.upstream.maxResponseBytes,
            downloadTimeout: .milliseconds(Int64(configuration.upstream.downloadTimeoutMs))
        ))
        let retry = RetryPolicy(
            maxAttempts: configuration.upstream.maxAttempts,
            initialBackoff: .milliseconds(configuration.upstream.initialBackoffMs),
            maxBackoff: .milliseconds(configuration.upstream.maxBackoffMs),
            maxTotal: .milliseconds(configuration.upstream.maxTotalMs)
        )
        let signer = URLSigner(secret: try SigningSecret.load(configuration: configuration), lifetime: configuration.files.urlTTLSeconds)
        let router = ModelRouter(configuration: configuration)
        let cacheStore = stores.cache
        var cache: SemanticCache?
        var indexServices = [any Service]()
        if configuration.cache.enabled {
            let vocabulary = try GuardVocabulary.load(settings: configuration.cache)
            var settings = configuration.cache
            if settings.indexSnapshots {
                settings.indexSnapshotDirectory = configuration.dataDirectoryURL.appendingPathComponent("index-snapshots", isDirectory: true).path
            }
            settings.embedderVariant = configuration.embedder.kind == .minilm ? configuration.embedder.precision.rawValue : ""
            let semantic = SemanticCache(settings: settings, store: cacheStore, embedder: embedder, vocabulary: vocabulary)
            if let feed = stores.cacheChanges {
                // Other replicas write too: load at a feed position, then follow it.
                let follower = CacheIndexFollower(cache: semantic, feed: feed, logger: logger)
                try await follower.load()
                indexServices.append(CacheFollowService(follower: follower, feed: feed, logger: logger))
            } else {
                try await semantic.loadIndex()
            }
            let restored = semantic.snapshotRestore
            for (file, reason) in restored.rejected.prefix(20) { logger.warning("index snapshot not used; its partition is rebuilt from the rows", metadata: ["file": "\(file.prefix(200))", "reason": "\(reason.prefix(300))"]) }
            if restored.partitions > 0 {
                logger.info("index graphs restored from snapshots", metadata: [
                    "partitions": "\(restored.partitions)", "nodes": "\(restored.nodes)", "dropped": "\(restored.dropped)",
                    "bytes": "\(restored.bytes)", "seconds": "\(String(format: "%.2f", restored.seconds))",
                ])
            }
            cache = semantic
        }
        let publicBaseURL = PublicBaseURL(configuration.publicBaseURL)
        let pricing: PricingSource
        do {
            pricing = try PricingSource(path: configuration.pricingFile, logger: logger)
        } catch {
            throw ConfigurationError(key: "pricing_file", problem: "\(error)")
        }
        let ledger = stores.ledger
        let limiter: any SpendLimiter = stores.sharedLimits ?? LimitEnforcer(ledger: ledger)
        let periodSpend = PeriodSpend(limiter: limiter, ledger: ledger)
        // Webhook alerts (none configured: the center does nothing and nothing is queued).
        let alerts = AlertCenter(
            settings: configuration.alerts, claims: stores.alerts, sender: WebhookSender(logger: logger),
            spent: { scope, period, now in try await periodSpend(scope, period: period, now: now) },
            keys: { try await keys.list() }, logger: logger
        )
        let cooldownSettings = configuration.upstream.cooldown
        let cooldown = UpstreamCooldown(cooldownSettings) { [alerts] model in
            alerts.raise(.cooldown(model: model, failures: cooldownSettings.failures, seconds: cooldownSettings.seconds))
        }
        let namespaceLimits = CachedNamespaceLimits(stores.namespaceLimits)
        let meter = Meter(
            pricing: pricing, ledger: ledger, namespaces: namespaceLimits,
            embeddingModel: configuration.embedder.kind == .openai ? configuration.embedder.model : nil,
            metrics: metrics, logger: logger, limits: limiter
        )

        let unauthenticated = UnauthenticatedRequests(rpm: configuration.server.unauthenticatedRPM, ledger: ledger, metrics: metrics, logger: logger)
        let lookupLog = BatchedLookupLog(stores.lookupLog)
        let tuner = CacheTuner(base: configuration.cache, store: stores.cacheSettings, log: lookupLog, logger: logger)
        let watchdog = StreamWatchdog()
        let pipeline = ImagePipeline(
            authenticator: Authenticator(keys: keys),
            router: router,
            dispatcher: UpstreamDispatcher(upstream: upstream, policy: retry, tracer: tracer, cooldown: cooldown),
            assembler: ImageResponseAssembler(
                upstream: upstream, blobs: blobs, signer: signer, publicBaseURL: publicBaseURL,
                downloads: configuration.upstream.imageDownload, logger: logger
            ),
            metrics: metrics,
            meter: meter,
            tuner: tuner,
            limits: InputLimits(
                maxBodyBytes: configuration.server.maxBodyBytes, maxJSONBytes: configuration.server.maxJSONBytes,
                maxPromptBytes: configuration.server.maxPromptBytes, minBodyBytesPerSecond: configuration.server.minBodyBytesPerSecond,
                preferB64JSON: configuration.upstream.preferB64JSON
            ),
            unauthenticated: unauthenticated,
            bodyMemory: BodyMemoryBudget(
                capacity: configuration.server.maxInflightBodyBytes, maxWait: .seconds(configuration.server.bodyMemoryWaitSeconds)
            ),
            maxCaptureBytes: configuration.streamingMaxCaptureBytes,
            watchdog: watchdog,
            cache: cache,
            flights: stores.flights,
            flightMaxWait: .milliseconds(configuration.upstream.maxTotalMs) + .seconds(30),
            tracer: tracer,
            alerts: alerts
        )

        let httpRouter = Router(context: AfterimageRequestContext.self)
        httpRouter.add(middleware: RequestLogMiddleware(logger: logger, metrics: metrics))
        httpRouter.add(middleware: RequestTracingMiddleware(tracer: tracer))
        HealthController(isReachable: stores.isReachable, metrics: metrics, embedder: embedder, refreshGauges: { [cache] in
            if let totals = cache?.liveTotals { metrics.setCacheSize(entries: totals.entries, bytes: totals.bytes) }
            for (keyID, remaining) in await meter.limits.remainingByKey() {
                metrics.setBudgetRemaining(keyID: keyID, usd: Double(remaining.nanos) / 1e9)
            }
        }, metricsAuth: configuration.metrics, admin: AdminAuthorizer(adminKey: configuration.adminKey)).addRoutes(to: httpRouter)
        ImagesController(pipeline: pipeline, files: FilesController(blobs: blobs, signer: signer))
            .addRoutes(to: httpRouter.group("v1"))
        DashboardController().addRoutes(to: httpRouter)
        OpenAPIController().addRoutes(to: httpRouter)
        // Every /admin route is behind the admin key (middleware on the group, not a call per handler).
        let admin = httpRouter.group("admin").add(middleware: AdminAuthorizer(adminKey: configuration.adminKey))
        AdminKeysController(keys: keys).addRoutes(to: admin)
        AdminCacheController(cache: cache, store: cacheStore).addRoutes(to: admin)
        AdminNamespacesController(store: namespaceLimits).addRoutes(to: admin)
        AdminUsageController(ledger: ledger).addRoutes(to: admin)
        AdminUpstreamController(cooldown: cooldown).addRoutes(to: admin)
        AdminTuningController(tuner: tuner, maxRows: configuration.cache.lookupLogMaxRows, alerts: alerts)
            .addRoutes(to: admin)
        onRoutes(httpRouter.routes.map { "\($0.method.rawValue) \($0.path)" })
        let sweeper = CacheSweeper(
            cache: cache, blobs: blobs, interval: .seconds(configuration.cache.sweepIntervalSeconds),
            urlLifetimeSeconds: configuration.files.urlTTLSeconds, logger: logger
        )

        // Slow and idle clients: a connection with nothing moving is closed; headers are bounded.
        return Application(
            router: httpRouter,
            server: .http1(configuration: .init(
                idleTimeout: configuration.server.idleTimeoutSeconds == 0 ? nil : .seconds(Int64(configuration.server.idleTimeoutSeconds)),
                httpDecoderConfiguration: .init(maxHeaderFieldSize: 16 << 10, maxHeaderListSize: 64 << 10, maxHeaderFieldCount: 100)
            )),
            configuration: .init(address: .hostname(configuration.server.host, port: configuration.server.port), serverName: "afterimage"),
            // The tracing exporter first in the list, so it shuts down last (the final spans are sent).
            services: (tracingService.map { [$0] } ?? []) + stores.services + indexServices + [
                // After the stores in the list, so shut down before them: queued hit counters are written.
                // After the stores: shut down before them (its budget checks read the ledger).
                alerts,
                ClosingService(name: "cache-hit-counters") { [cache] in await cache?.flushHits() },
                ClosingService(name: "lookup-log") { await lookupLog.flush() },
                ClosingService(name: "upstream-http-client") { try await upstream.shutdown() },
                ClosingService(name: "embedder") { try await embedder.shutdown() }, sweeper, unauthenticated, watchdog,
                ClosingService(name: "data-directory-lock") { directoryLock.release() },
                // After the lock in the list, so it shuts down first: graphs saved while the data directory is ours.
                ClosingService(name: "index-snapshots") { [cache, logger] in
                    guard let cache else { return }
                    let written = await cache.writeIndexSnapshots(), failed = cache.failedSnapshotWrites
                    if written > 0 || failed > 0 {
                        logger.info("index graphs saved for the next start", metadata: ["snapshots": "\(written)", "failed_writes_since_start": "\(failed)"])
                    }
                },
                // Prices reload within a second of the file changing.
                PeriodicService(interval: .seconds(1)) { pricing.reloadIfChanged() },
            ],
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.server.port
                if configuration.server.publicBaseURL == nil {
                    publicBaseURL.set("http://\(configuration.server.host):\(port)")
                }
                await onServerRunning(port)
            },
            logger: logger
        )
    }
}

/// A service that does nothing until shutdown, then runs `close` (e.g. closing an HTTP client's pool).
struct ClosingService: Service {
    let name: String
    let close: @Sendable () async throws -> Void

    func run() async throws {
        try? await gracefulShutdown()
        try await close()
    }
}
