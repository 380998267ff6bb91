import AfterimageCore
import Hummingbird

/// The admin API's gate: `Authorization: Bearer <admin key>`, compared in constant time.
struct AdminAuthorizer: Sendable {
    let adminKey: String?

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
