import HTTPTypes
import Hummingbird
import Logging
import TallyAnalytics
import TallyStore

/// Authenticates `Authorization: Bearer <key>` and puts the key's principal in the context, from which the keyed
/// group makes the `AuthenticatedContext` its handlers get (Hummingbird's child-context pattern:
/// `group.add(middleware: AuthMiddleware(…)).group(context: AuthenticatedContext.self)`); 401 otherwise.
///
/// Roles and tenants are checked by the analytics services, which know what each request touches.
///
/// Key guessing: secrets are looked up by their SHA-256 digest (`Catalog.verify`), never compared with a stored
/// secret, so the time an answer takes depends on the digest of the guess, which the guesser cannot steer towards
/// a real key's; nothing about a stored secret leaks through timing. A key verified lately is answered from memory
/// (`Analytics.authenticate`, keyed by the same digest): only the exact secret of a working key is ever found there,
/// so a guess still goes to the catalog, and a revocation ends it as `AnalyticsOptions.keyCacheSeconds` says. Every refused key is counted
/// (`tally_http_auth_failures_total`) and logged as a count, at most one line per 10 s, never with the key.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let analytics: Analytics
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw Problem(.unauthorized, "send the API key as Authorization: Bearer <key>", parameter: "Authorization")
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            failed(context)
            throw Problem(.unauthorized, "the Authorization header must be Bearer <key>", parameter: "Authorization")
        }
        let secret = String(parts[1]).trimmingASCIIWhitespace()
        guard let principal = try await analytics.authenticate(secret: secret) else {
            failed(context)
            throw Problem(.unauthorized, "the API key is unknown or revoked", parameter: "Authorization")
        }
        var context = context
        context.principal = principal
        return try await next(request, context)
    }

    /// Counts a refused key; logs the count now and then (the key itself never).
    private func failed(_ context: Context) {
        if let n = metrics.recordAuthFailure(now: analytics.clock.monotonicSeconds()) {
            context.logger.warning("API key refused", metadata: ["failures_since_last_report": "\(n)"])
        }
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
