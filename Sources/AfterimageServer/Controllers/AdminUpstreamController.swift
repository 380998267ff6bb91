import AfterimageCore
import AfterimageUpstream
import Hummingbird

/// `/admin/upstream`: the models failing lately and which of them rest (`upstream.cooldown`).
struct AdminUpstreamController: Sendable {
    let cooldown: UpstreamCooldown

    func addRoutes(to group: RouterGroup<AfterimageRequestContext>) {
        group.get("upstream") { request, _ in
            _ = try AdminRequest.query(request, allowed: [])
            let models: [JSONValue] = cooldown.health().map { model in
                .object([
                    "model": .string(model.model), "failures_in_a_row": .integer(Int64(model.failuresInARow)),
                    "resting": .bool(model.restingFor != nil),
                    "resting_seconds_left": model.restingFor.map { .integer(max(1, $0.components.seconds + ($0.components.attoseconds > 0 ? 1 : 0))) } ?? .null,
                ])
            }
            return JSONResponse.make(.object([
                "object": "upstream.health",
                "cooldown": .object([
                    "failures": .integer(Int64(cooldown.settings.failures)), "seconds": .integer(Int64(cooldown.settings.seconds)),
                ]),
                "models": .array(models),
            ]))
        }
    }
}
