import AfterimageCore
import Hummingbird

/// `/healthz` (process up), `/readyz` (database open, config loaded) and `/metrics`.
struct HealthController: Sendable {
    let isReachable: @Sendable () async -> Bool
    let metrics: ServerMetrics
    let embedder: any Embedder
    /// Sets the gauges that are read rather than counted (cache size, budgets) before a scrape.
    let refreshGauges: @Sendable () async -> Void
    /// Who may scrape `/metrics` (they show namespaces, spend and per-key budgets).
    let metricsAuth: AfterimageConfiguration.Metrics
    let admin: AdminAuthorizer

    func addRoutes(to router: Router<AfterimageRequestContext>) {
        router.get("healthz") { _, _ in
            JSONResponse.make(.object(["status": .string("ok")]))
        }
        router.get("readyz") { _, _ in
            let ready = await isReachable()
            return JSONResponse.make(
                .object([
                    "status": .string(ready ? "ready" : "unavailable"), "database": .bool(ready), "config": .bool(true),
                    "embedder": .object(["provider": .string(embedder.provider), "model": .string(embedder.modelID), "dimension": .integer(Int64(embedder.dimension))]),
                ]),
                status: ready ? .ok : .serviceUnavailable
            )
        }
        router.get("metrics") { request, _ in
            try authorizeScrape(request)
            await refreshGauges()
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render()))
            )
        }
    }

    /// `metrics.auth`: `none`; `admin` (the admin key; open only while no admin key is set);
    /// `token` (the `metrics.token_env` value, compared in constant time).
    func authorizeScrape(_ request: Request) throws {
        switch metricsAuth.auth {
        case .none:
            return
        case .admin:
            if admin.adminKey == nil { return }
            try admin.authorize(request)
        case .token:
            guard let token = metricsAuth.token, let presented = Authenticator.presentedSecret(request.headers),
                  KeySecret.constantTimeEquals(KeySecret.hash(presented), KeySecret.hash(token)) else {
                throw AfterimageError.unauthorized("/metrics needs 'Authorization: Bearer <metrics token>'.")
            }
        }
    }
}
