import AfterimageCore
import Hummingbird

/// The admin API's gate: `Authorization: Bearer <admin key>`, compared in constant time. As
/// middleware it guards the whole `/admin` route group; `/metrics` calls `authorize` itself.
struct AdminAuthorizer: RouterMiddleware {
    typealias Context = AfterimageRequestContext
    let adminKey: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try authorize(request)
        return try await next(request, context)
    }

    func authorize(_ request: Request) throws {
        guard let adminKey else {
            throw AfterimageError.unauthorized("The admin API is disabled: set AFTERIMAGE_ADMIN_KEY.")
        }
        guard let presented = Authenticator.presentedSecret(request.headers) else {
            throw AfterimageError.unauthorized("Missing admin key: send 'Authorization: Bearer <admin key>'.")
        }
        guard KeySecret.constantTimeEquals(KeySecret.hash(presented), KeySecret.hash(adminKey)) else {
            throw AfterimageError.unauthorized("Invalid admin key.")
        }
    }
}
