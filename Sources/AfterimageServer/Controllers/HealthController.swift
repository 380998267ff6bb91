import AfterimageCore
import AfterimageStorage
import Hummingbird

/// `/healthz` (process up), `/readyz` (database open, config loaded) and `/metrics`.
struct HealthController: Sendable {
    let database: AppDatabase
    let metrics: ServerMetrics
    let embedder: any Embedder
    /// Sets the gauges that are read rather than counted (cache size, budgets) before a scrape.
    let refreshGauges: @Sendable () async -> Void

    func addRoutes(to router: Router<AfterimageRequestContext>) {
        router.get("healthz") { _, _ in
            JSONResponse.make(.object(["status": .string("ok")]))
        }
        router.get("readyz") { _, _ in
            let ready = await database.isReachable()
            return JSONResponse.make(
                .object([
                    "status": .string(ready ? "ready" : "unavailable"), "database": .bool(ready), "config": .bool(true),
                    "embedder": .object(["provider": .string(embedder.provider), "model": .string(embedder.modelID), "dimension": .integer(Int64(embedder.dimension))]),
                ]),
                status: ready ? .ok : .serviceUnavailable
            )
        }
        router.get("metrics") { _, _ in
            await refreshGauges()
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render()))
            )
        }
    }
}
