import AfterimageCore
import Hummingbird
import NIOCore

/// `GET /openapi.json`: the OpenAPI document (public, like the routes it describes).
struct OpenAPIController: Sendable {
    func addRoutes(to router: Router<AfterimageRequestContext>) {
        router.get("openapi.json") { _, _ in
            guard let json = OpenAPIDocument.json else {
                throw AfterimageError.internalError("The built-in OpenAPI document does not parse.")
            }
            return Response(
                status: .ok,
                headers: [.contentType: "application/json", .cacheControl: "no-cache"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: json))
            )
        }
    }
}
