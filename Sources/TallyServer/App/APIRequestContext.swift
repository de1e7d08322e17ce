import Hummingbird
import TallyAnalytics

/// The request context of the facade: Hummingbird's core context plus the principal the key authenticated.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `AuthMiddleware` on authenticated routes.
    public var principal: Principal?

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        principal = nil
    }

    /// The principal of an authenticated route (the auth middleware guarantees one).
    func requirePrincipal() throws -> Principal {
        guard let principal else { throw Problem(.unauthorized, "this route needs Authorization: Bearer <key>") }
        return principal
    }
}
