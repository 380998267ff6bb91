import AfterimageCore
import Foundation
import Hummingbird

/// `/v1` routes: the two image endpoints, the model list and the signed image files.
struct ImagesController: Sendable {
    let pipeline: ImagePipeline
    let files: FilesController

    func addRoutes(to group: RouterGroup<AfterimageRequestContext>) {
        group.post("images/generations") { request, context in
            try await pipeline.handle(request, context: context, endpoint: .generations)
        }
        group.post("images/edits") { request, context in
            try await pipeline.handle(request, context: context, endpoint: .edits)
        }
        group.get("models") { request, _ in
            let key = try await pipeline.authenticator.authenticate(request.headers)
            let created = Int64(key.createdAt.timeIntervalSince1970)
            let data: [JSONValue] = pipeline.router.models(for: key).map { model in
                .object([
                    "id": .string(model.id),
                    "object": .string("model"),
                    "created": .integer(created),
                    "owned_by": .string(model.provider),
                ])
            }
            return JSONResponse.make(.object(["object": .string("list"), "data": .array(data)]))
        }
        group.get("images/files/:file") { request, context in
            try await files.serve(request, context: context)
        }
    }
}
