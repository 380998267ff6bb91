import Hummingbird
import NIOCore

/// `GET /dashboard`: the built-in dashboard page. The page is public; its data needs the admin key.
struct DashboardController: Sendable {
    func addRoutes(to router: Router<AfterimageRequestContext>) {
        router.get("dashboard") { _, _ in
            Response(
                status: .ok,
                headers: [
                    .contentType: "text/html; charset=utf-8",
                    .cacheControl: "no-cache",
                    // Only this server: no CDN, no third-party requests.
                    .init("Content-Security-Policy")!: "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data: blob:",
                ],
                body: ResponseBody(byteBuffer: ByteBuffer(string: DashboardPage.html))
            )
        }
    }
}
