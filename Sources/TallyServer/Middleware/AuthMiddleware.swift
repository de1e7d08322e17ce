import HTTPTypes
import Hummingbird
import TallyAnalytics

/// Authenticates `Authorization: Bearer <key>` and puts the key's principal in the context; 401 otherwise.
///
/// Roles and tenants are checked by the analytics services, which know what each request touches.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let analytics: Analytics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw Problem(.unauthorized, "send the API key as Authorization: Bearer <key>", parameter: "Authorization")
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem(.unauthorized, "the Authorization header must be Bearer <key>", parameter: "Authorization")
        }
        let secret = String(parts[1]).trimmingASCIIWhitespace()
        guard let principal = try await analytics.authenticate(secret: secret) else {
            throw Problem(.unauthorized, "the API key is unknown or revoked", parameter: "Authorization")
        }
        var context = context
        context.principal = principal
        return try await next(request, context)
    }
}

extension String {
    func trimmingASCIIWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
