import Hummingbird
import TallyAnalytics

/// The request context of the facade: Hummingbird's core context plus the principal the key authenticated.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `AuthMiddleware` on the keyed routes, where `AuthenticatedContext` takes it over; nil elsewhere.
    public var principal: Principal?

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        principal = nil
    }
}
