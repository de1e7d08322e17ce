import Hummingbird
import TallyAnalytics

/// The context of a keyed route: the base context once `AuthMiddleware` has authenticated the key, so a handler
/// gets the principal itself rather than an optional it must check.
///
/// Made by the keyed group (`group(context:)`) from the `APIRequestContext` that `AuthMiddleware` filled in; it
/// shares the core context, so the matched route and the logger are the same for the metrics and problem
/// middlewares outside.
struct AuthenticatedContext: ChildRequestContext {
    var coreContext: CoreRequestContextStorage
    /// Who the key belongs to: its tenant (none for admin keys) and role.
    let principal: Principal

    /// The keyed context of `context`; a 401 when no key was authenticated (a keyed group without `AuthMiddleware`).
    init(context: APIRequestContext) throws {
        guard let principal = context.principal else {
            throw Problem(.unauthorized, "this route needs Authorization: Bearer <key>")
        }
        self.coreContext = context.coreContext
        self.principal = principal
    }
}
